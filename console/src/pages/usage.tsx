import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks'
import uPlot from 'uplot'
import { all, json, ok } from '../api'
import { formatMoney, sumAmounts } from '../money'
import { useConsole } from '../session'
import {
  download,
  ErrorNote,
  Field,
  formatTime,
  Loading,
  Page,
  Section,
  Table,
  toCsv,
  useLoad,
  value,
} from '../ui'

type Bucket = '1h' | '1d' | '1mo'
type GroupBy = 'workspace_id' | 'model' | 'product'
type Metric = 'cost' | 'input_tokens' | 'output_tokens' | 'requests'

const METRICS: Record<Metric, string> = {
  cost: 'Cost',
  input_tokens: 'Input tokens',
  output_tokens: 'Output tokens',
  requests: 'Requests',
}
const GROUPS: Record<GroupBy, string> = {
  workspace_id: 'Workspace',
  model: 'Model',
  product: 'Product',
}
const BUCKET_SECONDS: Record<Bucket, number> = { '1h': 3600, '1d': 86_400, '1mo': 30 * 86_400 }
/** The most buckets a page of each width holds (the API's limits). */
const PAGE_LIMIT: Record<Bucket, number> = { '1h': 168, '1d': 31, '1mo': 24 }

/** One table row: a bucket and a group with the figure shown (money as the API's string). */
export interface UsageRow {
  bucket: string
  group: string
  value: string
}

interface Query {
  from: string
  to: string
  bucket: Bucket
  groupBy: GroupBy
  metric: Metric
}

function today(): string {
  return new Date().toISOString().slice(0, 10)
}

function nextDay(date: string): string {
  const day = new Date(`${date}T00:00:00Z`)
  day.setUTCDate(day.getUTCDate() + 1)
  return day.toISOString()
}

interface Result {
  workspace_id?: string | null
  model?: string | null
  product?: string | null
  cost: string
  input_tokens?: number
  output_tokens?: number
  requests?: number
}
interface Report {
  currency: string
  as_of: string | null
  buckets: { starting_at: string; results: Result[] }[]
}

/** Every page of the report: /v1/costs for cost by day or month, /v1/usage otherwise. */
function useReport(query: Query) {
  const { client } = useConsole()
  return useLoad(async (): Promise<Report> => {
    const base = {
      starting_at: `${query.from}T00:00:00Z`,
      ending_at: nextDay(query.to),
      group_by: query.groupBy,
      limit: PAGE_LIMIT[query.bucket],
    }
    const report: Report = { currency: '', as_of: null, buckets: [] }
    let page: string | undefined
    do {
      const result = json(
        query.metric === 'cost' && query.bucket !== '1h'
          ? await ok(
              client.GET('/v1/costs', {
                params: { query: { ...base, bucket_width: query.bucket, page } },
              })
            )
          : await ok(
              client.GET('/v1/usage', {
                params: { query: { ...base, bucket_width: query.bucket, page } },
              })
            )
      )
      report.currency = result.currency
      report.as_of = result.as_of
      report.buckets.push(...result.data)
      page = result.has_more && result.next_page ? result.next_page : undefined
    } while (page)
    return report
  }, [query.from, query.to, query.bucket, query.groupBy, query.metric])
}

function figureOf(result: Result, metric: Metric): string {
  return metric === 'cost' ? result.cost : String(result[metric] ?? 0)
}

function UsageChart(props: {
  rows: UsageRow[]
  groups: string[]
  buckets: string[]
  metric: Metric
  total: string
  bucketSeconds: number
}) {
  const target = useRef<HTMLDivElement>(null)
  // Stacked: each series is the running sum up to its group (drawn largest first).
  const stacked = useMemo(() => {
    const byKey = new Map(
      props.rows.map((row) => [`${row.bucket}|${row.group}`, Number(row.value)])
    )
    const running = props.buckets.map(() => 0)
    return props.groups.map((group) =>
      props.buckets.map((bucket, i) => {
        running[i] = (running[i] ?? 0) + (byKey.get(`${bucket}|${group}`) ?? 0)
        return running[i]
      })
    )
  }, [props.rows, props.groups, props.buckets])
  /** What the chart draws in all: the tops of the stacks, summed (for a check against the table). */
  const plotted = (stacked[stacked.length - 1] ?? []).reduce((sum, top) => sum + top, 0)
  // Layout effect: the chart is drawn before the browser paints the table beside it.
  useLayoutEffect(() => {
    const element = target.current
    if (!element) return
    const xs = props.buckets.map((bucket) => Date.parse(bucket) / 1000)
    const palette = ['#1f6feb', '#d97706', '#15803d', '#b91c1c', '#7c3aed', '#0e7490', '#a16207']
    const series: uPlot.Series[] = [{}]
    const data: uPlot.AlignedData = [xs]
    for (let i = props.groups.length - 1; i >= 0; i--) {
      const color = palette[i % palette.length]!
      series.push({
        label: props.groups[i],
        stroke: color,
        fill: `${color}cc`,
        paths: uPlot.paths.bars!({ size: [0.7, 60] }),
        points: { show: false },
      })
      data.push(stacked[i]!)
    }
    const plot = new uPlot(
      {
        width: Math.max(280, element.clientWidth),
        height: 280,
        series,
        axes: [{}, { size: 70 }],
        // Buckets are UTC (as the API's): the axis says UTC times too.
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        scales: {
          // The buckets shown, half a bucket either side (uPlot widens a single time point to
          // ~1000 days otherwise).
          x: {
            time: true,
            range: () => [
              (xs[0] ?? 0) - props.bucketSeconds / 2,
              (xs[xs.length - 1] ?? 0) + props.bucketSeconds / 2,
            ],
          },
          y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        },
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
      },
      data,
      element
    )
    const resize = new ResizeObserver(() =>
      plot.setSize({ width: Math.max(280, element.clientWidth), height: 280 })
    )
    resize.observe(element)
    return () => {
      resize.disconnect()
      plot.destroy()
    }
  }, [stacked, props.groups, props.buckets, props.bucketSeconds])
  return (
    <figure>
      <div
        ref={target}
        class="chart"
        role="img"
        aria-label={`${METRICS[props.metric]} per bucket, stacked by group; total ${props.total}`}
        data-testid="usage-chart"
        data-plotted-total={plotted.toFixed(2)}
      />
      <figcaption>
        Total in the chart: <span data-testid="chart-total">{props.total}</span>
      </figcaption>
    </figure>
  )
}

export function UsagePage() {
  const { client } = useConsole()
  const [query, setQuery] = useState<Query>({
    from: `${today().slice(0, 8)}01`,
    to: today(),
    bucket: '1d',
    groupBy: 'workspace_id',
    metric: 'cost',
  })
  const report = useReport(query)
  const names = useLoad(
    async () =>
      new Map(
        (
          await all((after) =>
            ok(client.GET('/v1/workspaces', { params: { query: { limit: 100, after } } }))
          )
        ).map((workspace) => [workspace.id, workspace.name])
      ),
    []
  )

  const view = useMemo(() => {
    if (!report.data) return undefined
    const label = (result: Result) => {
      const key = result[query.groupBy]
      if (key === null || key === undefined) return '(none)'
      return query.groupBy === 'workspace_id' ? (names.data?.get(key) ?? key) : key
    }
    const rows: UsageRow[] = []
    for (const bucket of report.data.buckets) {
      for (const result of bucket.results) {
        rows.push({
          bucket: bucket.starting_at,
          group: label(result),
          value: figureOf(result, query.metric),
        })
      }
    }
    const total =
      query.metric === 'cost'
        ? sumAmounts(rows.map((row) => row.value))
        : String(rows.reduce((sum, row) => sum + Number(row.value), 0))
    const groups = [...new Set(rows.map((row) => row.group))].sort()
    const buckets = report.data.buckets.map((bucket) => bucket.starting_at)
    return { rows, total, groups, buckets }
  }, [report.data, names.data, query.groupBy, query.metric])

  const set =
    <K extends keyof Query>(key: K) =>
    (event: Parameters<typeof value>[0]) =>
      setQuery({ ...query, [key]: value(event) as Query[K] })
  const currency = report.data?.currency ?? ''
  const shown = (row: UsageRow) => row.value
  const csvHeader = ['bucket_start', GROUPS[query.groupBy], METRICS[query.metric]]

  return (
    <Page title="Usage & costs">
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <Field label="From (UTC)">
          <input type="date" value={query.from} max={query.to} onChange={set('from')} />
        </Field>
        <Field label="To (UTC, inclusive)">
          <input type="date" value={query.to} min={query.from} onChange={set('to')} />
        </Field>
        <Field label="Buckets">
          <select value={query.bucket} onChange={set('bucket')}>
            <option value="1h">Hourly</option>
            <option value="1d">Daily</option>
            <option value="1mo">Monthly</option>
          </select>
        </Field>
        <Field label="Stack by">
          <select value={query.groupBy} onChange={set('groupBy')}>
            {Object.entries(GROUPS).map(([key, label]) => (
              <option value={key} key={key}>
                {label}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Figure">
          <select value={query.metric} onChange={set('metric')}>
            {Object.entries(METRICS).map(([key, label]) => (
              <option value={key} key={key}>
                {label}
              </option>
            ))}
          </select>
        </Field>
      </form>
      <ErrorNote error={report.error} />
      {report.loading ? <Loading what="the report" /> : null}
      {view && report.data ? (
        <>
          <p class="muted">
            Usage counted up to {formatTime(report.data.as_of)} (as_of).
            {query.metric === 'cost' ? ` Amounts in ${currency}.` : ''}
          </p>
          <Section title="Chart">
            <UsageChart
              {...view}
              metric={query.metric}
              bucketSeconds={BUCKET_SECONDS[query.bucket]}
            />
          </Section>
          <Section title="Table">
            <div class="row">
              <button
                type="button"
                onClick={() =>
                  download(
                    `${query.metric}-${query.groupBy}-${query.bucket}-${query.from}-${query.to}.csv`,
                    toCsv([
                      csvHeader,
                      ...view.rows.map((row) => [row.bucket, row.group, shown(row)]),
                      ['total', '', view.total],
                    ])
                  )
                }
              >
                Download CSV
              </button>
            </div>
            <Table
              testId="usage-table"
              caption={`${METRICS[query.metric]} by ${GROUPS[query.groupBy].toLowerCase()}, ${query.bucket} buckets`}
              rows={view.rows}
              rowKey={(row) => `${row.bucket}|${row.group}`}
              columns={[
                { header: csvHeader[0]!, cell: (row) => row.bucket },
                { header: csvHeader[1]!, cell: (row) => row.group },
                { header: csvHeader[2]!, numeric: true, cell: shown },
              ]}
              footer={
                <tr>
                  <th scope="row">total</th>
                  <td />
                  <td class="num" data-testid="table-total">
                    {view.total}
                  </td>
                </tr>
              }
            />
            {query.metric === 'cost' ? (
              <p class="muted">Total: {formatMoney(view.total, currency)}</p>
            ) : null}
          </Section>
        </>
      ) : null}
    </Page>
  )
}
