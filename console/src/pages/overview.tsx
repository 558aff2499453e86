import { all, ok, type Schemas } from '../api'
import { formatMoney, toMicros } from '../money'
import { useConsole } from '../session'
import { ErrorNote, formatTime, Loading, Page, Section, StateBadge, Table, useLoad } from '../ui'

type Budget = Schemas['Budget']

/** ok / warning / exceeded from the API, and suspended when its hard limit stopped usage. */
function stateOf(budget: Budget): string {
  return budget.suspended ? 'suspended' : budget.state
}

/** Spend against limit as a bar (a meter for assistive technology). */
function SpendBar({ budget }: { budget: Budget }) {
  if (budget.limit === null) return <span class="muted">no limit</span>
  const limit = toMicros(budget.limit)
  const spend = toMicros(budget.spend)
  const percent = limit === 0n ? 100 : Math.min(100, Number((spend * 10000n) / limit) / 100)
  return (
    <meter
      class={`bar bar-${stateOf(budget)}`}
      min={0}
      max={100}
      value={percent}
      aria-label={`${percent}% of the limit used`}
    >
      {percent}%
    </meter>
  )
}

export function OverviewPage() {
  const { client } = useConsole()
  const load = async () => {
    const [budgets, workspaces] = await Promise.all([
      ok(client.GET('/v1/budgets')),
      all((after) =>
        ok(client.GET('/v1/workspaces', { params: { query: { limit: 100, after } } }))
      ),
    ])
    return { budgets, names: new Map(workspaces.map((w) => [w.id, w.name])) }
  }
  const { data, error } = useLoad(load, [])
  return (
    <Page title="Overview">
      <ErrorNote error={error} />
      {!data && !error ? <Loading what="budgets" /> : null}
      {data ? <OverviewBody {...data} /> : null}
    </Page>
  )
}

function OverviewBody(props: {
  budgets: { data: Budget[]; as_of: string | null }
  names: Map<string, string>
}) {
  const org = props.budgets.data.find((budget) => budget.scope === 'organization')
  const workspaces = props.budgets.data.filter((budget) => budget.scope === 'workspace')
  return (
    <>
      <p class="muted" data-testid="as-of">
        Usage counted up to {formatTime(props.budgets.as_of)} (as_of).
      </p>
      {org ? (
        <Section title={`This month (${org.month})`}>
          <dl class="figures">
            <div>
              <dt>Spend</dt>
              <dd data-testid="org-spend">{formatMoney(org.spend, org.currency)}</dd>
            </div>
            <div>
              <dt>Live spend</dt>
              <dd data-testid="org-live-spend" title="With usage not aggregated yet">
                {formatMoney(org.live_spend, org.currency)}
              </dd>
            </div>
            <div>
              <dt>Limit</dt>
              <dd>{org.limit === null ? 'none' : formatMoney(org.limit, org.currency)}</dd>
            </div>
            <div>
              <dt>Forecast to month end</dt>
              <dd>{formatMoney(org.forecast_month_end, org.currency)}</dd>
            </div>
            <div>
              <dt>State</dt>
              <dd>
                <StateBadge state={stateOf(org)} /> ({org.enforcement})
              </dd>
            </div>
          </dl>
          <SpendBar budget={org} />
        </Section>
      ) : null}
      <Section title="Workspaces">
        <Table
          caption="Spend this month per workspace"
          rows={workspaces}
          rowKey={(budget) => budget.workspace_id ?? ''}
          columns={[
            {
              header: 'Workspace',
              cell: (b) => props.names.get(b.workspace_id ?? '') ?? b.workspace_id,
            },
            { header: 'Spend', numeric: true, cell: (b) => formatMoney(b.spend, b.currency) },
            {
              header: 'Live spend',
              numeric: true,
              cell: (b) => formatMoney(b.live_spend, b.currency),
            },
            {
              header: 'Limit',
              numeric: true,
              cell: (b) => (b.limit === null ? '—' : formatMoney(b.limit, b.currency)),
            },
            { header: 'Used', cell: (b) => <SpendBar budget={b} /> },
            {
              header: 'Forecast',
              numeric: true,
              cell: (b) => formatMoney(b.forecast_month_end, b.currency),
            },
            { header: 'State', cell: (b) => <StateBadge state={stateOf(b)} /> },
          ]}
        />
      </Section>
    </>
  )
}
