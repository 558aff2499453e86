import { useState } from 'preact/hooks'
import { all, ok, type Schemas } from '../api'
import { formatMoney } from '../money'
import { useConsole } from '../session'
import { ErrorNote, Field, Loading, Page, Section, useAction, useLoad, value } from '../ui'
import { RateLimitsSection } from './rate-limits'

type SpendLimit = Schemas['SpendLimit']
type SpendLimitInput = Schemas['SpendLimitInput']
type Budget = Schemas['Budget']

function LimitForm(props: {
  limit: SpendLimit
  /** This month's figures of the same scope (GET /v1/budgets), when it has any. */
  budget?: Budget
  label: string
  save: (input: SpendLimitInput, version: number) => Promise<unknown>
  onSaved: () => void
}) {
  const { can } = useConsole()
  const [amount, setAmount] = useState(props.limit.monthly_limit ?? '')
  const [thresholds, setThresholds] = useState(props.limit.alert_thresholds_percent.join(', '))
  const [enforcement, setEnforcement] = useState(props.limit.enforcement)
  const action = useAction()
  const [saved, setSaved] = useState(false)
  const editable = can('update_spend_limits')
  const submit = async (event: Event) => {
    event.preventDefault()
    setSaved(false)
    const input: SpendLimitInput = {
      monthly_limit: amount.trim() === '' ? null : amount.trim(),
      alert_thresholds_percent: thresholds
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)
        .map(Number),
      enforcement,
    }
    if (await action.run(() => props.save(input, props.limit.version))) {
      setSaved(true)
      props.onSaved()
    }
  }
  const id = `limit-${props.limit.workspace_id ?? 'org'}`
  return (
    <form onSubmit={submit} class="limit" aria-labelledby={id}>
      <h3 id={id}>{props.label}</h3>
      <p class="muted">
        Now:{' '}
        {props.limit.monthly_limit === null
          ? 'no limit'
          : `${formatMoney(props.limit.monthly_limit, props.limit.currency)} a month`}
        , alerts at {props.limit.alert_thresholds_percent.join(', ') || 'none'} %,{' '}
        {props.limit.enforcement} enforcement.
      </p>
      {props.budget ? (
        <p class="muted" data-testid={`spend-${props.limit.workspace_id ?? 'org'}`}>
          Spend this month: {formatMoney(props.budget.spend, props.budget.currency)} (aggregated);
          live spend {formatMoney(props.budget.live_spend, props.budget.currency)} (with usage not
          aggregated yet, what a hard limit stops at).
        </p>
      ) : null}
      <fieldset disabled={!editable || action.busy}>
        <legend class="sr-only">Edit {props.label}</legend>
        <Field label={`Monthly limit (${props.limit.currency})`} hint="Empty: no limit">
          <input
            inputMode="decimal"
            value={amount}
            placeholder="e.g. 500.00"
            onInput={(event) => setAmount(value(event))}
          />
        </Field>
        <Field label="Alert thresholds (%)" hint="Comma-separated, e.g. 50, 80, 100">
          <input value={thresholds} onInput={(event) => setThresholds(value(event))} />
        </Field>
        <Field label="Enforcement">
          <select
            value={enforcement}
            onChange={(event) => setEnforcement(value(event) as 'hard' | 'soft')}
          >
            <option value="soft">soft (alerts only)</option>
            <option value="hard">hard (usage stops at the limit)</option>
          </select>
        </Field>
        {editable ? <button type="submit">Save {props.label.toLowerCase()}</button> : null}
      </fieldset>
      {saved ? <p role="status">Saved.</p> : null}
      <ErrorNote error={action.error} />
    </form>
  )
}

/** Spend limits of the organization and of each workspace, then the rate limits. */
export function BudgetsPage() {
  const { client, can } = useConsole()
  const limits = useLoad(async () => {
    const workspaces = await all((after) =>
      ok(client.GET('/v1/workspaces', { params: { query: { limit: 100, after } } }))
    )
    const active = workspaces.filter((workspace) => workspace.status === 'active')
    const [budgets, org, ...perWorkspace] = await Promise.all([
      ok(client.GET('/v1/budgets')),
      ok(client.GET('/v1/spend-limit')),
      ...active.map((workspace) =>
        ok(
          client.GET('/v1/workspaces/{id}/spend-limit', { params: { path: { id: workspace.id } } })
        )
      ),
    ])
    const budgetOf = (workspaceId: string | null) =>
      (budgets as { data: Budget[] }).data.find((b) => b.workspace_id === workspaceId)
    return {
      org: org as SpendLimit,
      orgBudget: budgetOf(null),
      workspaces: active.map((w, i) => ({
        workspace: w,
        limit: perWorkspace[i] as SpendLimit,
        budget: budgetOf(w.id),
      })),
    }
  }, [])
  // A limit never set has version 0: nothing to match yet.
  const ifMatch = (version: number) => (version > 0 ? { 'if-match': `"${version}"` } : undefined)
  return (
    <Page title="Budgets & limits">
      {!can('update_spend_limits') ? (
        <p class="muted">This key may read the limits; changing them needs another role.</p>
      ) : null}
      <ErrorNote error={limits.error} />
      {limits.loading && !limits.data ? <Loading what="spend limits" /> : null}
      {limits.data ? (
        <Section title="Spend limits">
          <LimitForm
            key={`org-${limits.data.org.version}`}
            label="Organization limit"
            limit={limits.data.org}
            budget={limits.data.orgBudget}
            onSaved={limits.reload}
            save={(body, version) =>
              ok(client.PUT('/v1/spend-limit', { body, params: { header: ifMatch(version) } }))
            }
          />
          {limits.data.workspaces.map(({ workspace, limit, budget }) => (
            <LimitForm
              key={`${workspace.id}-${limit.version}`}
              label={`Workspace ${workspace.name}`}
              limit={limit}
              budget={budget}
              onSaved={limits.reload}
              save={(body, version) =>
                ok(
                  client.PUT('/v1/workspaces/{id}/spend-limit', {
                    body,
                    params: { path: { id: workspace.id }, header: ifMatch(version) },
                  })
                )
              }
            />
          ))}
        </Section>
      ) : null}
      {can('read_rate_limits') ? <RateLimitsSection /> : null}
    </Page>
  )
}
