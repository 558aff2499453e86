import { useState } from 'preact/hooks'
import { json, ok, type Schemas } from '../api'
import { useConsole } from '../session'
import {
  download,
  ErrorNote,
  Field,
  formatTime,
  Loading,
  Section,
  Table,
  useAction,
  useLoad,
  value,
} from '../ui'

type AuditEvent = Schemas['AuditEvent']

interface Filters {
  actor_id: string
  event_type: string
  target_id: string
  after_time: string
  before_time: string
}

const EMPTY: Filters = {
  actor_id: '',
  event_type: '',
  target_id: '',
  after_time: '',
  before_time: '',
}

/** The filters the API takes: empty ones left out, datetime-local read as UTC. */
function query(filters: Filters) {
  const out: Partial<Filters> = {}
  for (const [key, raw] of Object.entries(filters) as [keyof Filters, string][]) {
    const text = raw.trim()
    if (!text) continue
    out[key] = key.endsWith('_time') ? new Date(`${text}Z`).toISOString() : text
  }
  return out
}

export function AuditSection() {
  const { client } = useConsole()
  const [draft, setDraft] = useState<Filters>(EMPTY)
  const [filters, setFilters] = useState<Filters>(EMPTY)
  const [pages, setPages] = useState<AuditEvent[][]>([])
  const [cursor, setCursor] = useState<string | null>(null)
  const first = useLoad(async () => {
    const page = json(
      await ok(
        client.GET('/v1/audit-events', { params: { query: { ...query(filters), limit: 50 } } })
      )
    )
    setPages([page.data])
    setCursor(page.has_more ? page.next_cursor : null)
    return page
  }, [filters])
  const more = useAction()
  const exporting = useAction()
  const events = pages.flat()
  const field = (key: keyof Filters) => ({
    value: draft[key],
    onInput: (event: Parameters<typeof value>[0]) => setDraft({ ...draft, [key]: value(event) }),
  })

  const exportCsv = () =>
    exporting.run(async () => {
      // The server's CSV, every page of it (X-Next-Cursor), header kept once.
      const parts: string[] = []
      let after: string | undefined
      do {
        const { data, response, error } = await client.GET('/v1/audit-events', {
          params: { query: { ...query(filters), format: 'csv', limit: 10000, after } },
          parseAs: 'text',
        })
        if (!response.ok || data === undefined) {
          await ok(Promise.resolve({ error: JSON.parse(String(error ?? '{}')), response }))
        }
        const text = String(data)
        parts.push(parts.length === 0 ? text : text.slice(text.indexOf('\n') + 1))
        after = response.headers.get('x-next-cursor') ?? undefined
      } while (after)
      download('audit-events.csv', parts.join(''))
    })

  return (
    <>
      <Section title="Filters">
        <form
          class="filters"
          onSubmit={(event) => {
            event.preventDefault()
            setFilters(draft)
          }}
        >
          <Field label="Actor id">
            <input {...field('actor_id')} />
          </Field>
          <Field label="Event type" hint="e.g. member.created">
            <input {...field('event_type')} />
          </Field>
          <Field label="Target id">
            <input {...field('target_id')} />
          </Field>
          <Field label="After (UTC)">
            <input type="datetime-local" {...field('after_time')} />
          </Field>
          <Field label="Before (UTC)">
            <input type="datetime-local" {...field('before_time')} />
          </Field>
          <div class="row">
            <button type="submit">Apply filters</button>
            <button type="button" onClick={() => void exportCsv()} disabled={exporting.busy}>
              Export CSV
            </button>
          </div>
        </form>
        <ErrorNote error={first.error ?? more.error ?? exporting.error} />
      </Section>
      <Section title="Events">
        {first.loading && events.length === 0 ? <Loading what="audit events" /> : null}
        <Table
          testId="audit-table"
          caption="Audit events, newest first"
          rows={events}
          rowKey={(e) => e.id}
          columns={[
            { header: 'When', cell: (e) => formatTime(e.occurred_at) },
            { header: 'Event', cell: (e) => e.event_type },
            { header: 'Actor', cell: (e) => `${e.actor.type} ${e.actor.id}` },
            { header: 'Target', cell: (e) => `${e.target.type} ${e.target.id}` },
            { header: 'Request', cell: (e) => <code>{e.request_id ?? '—'}</code> },
          ]}
        />
        {cursor ? (
          <button
            type="button"
            onClick={() =>
              void more.run(async () => {
                const page = json(
                  await ok(
                    client.GET('/v1/audit-events', {
                      params: { query: { ...query(filters), limit: 50, after: cursor } },
                    })
                  )
                )
                setPages([...pages, page.data])
                setCursor(page.has_more ? page.next_cursor : null)
              })
            }
          >
            Load more events
          </button>
        ) : null}
      </Section>
    </>
  )
}
