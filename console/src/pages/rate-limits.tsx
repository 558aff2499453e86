import { useState } from 'preact/hooks'
import { ApiError, ok, type Schemas } from '../api'
import { useConsole } from '../session'
import { ErrorNote, Loading, Section, Table, useAction, useLoad, value } from '../ui'
import { lists } from './shared'

type RateLimits = Schemas['RateLimits']
type EntryInput = Schemas['RateLimitEntryInput']
type Effective = Schemas['EffectiveRateLimit']
type LimitType = Effective['limit_type']

const TYPES: [LimitType, string][] = [
  ['requests_per_minute', 'Requests per minute'],
  ['tokens_per_minute', 'Tokens per minute'],
  ['tokens_per_month', 'Tokens per month'],
]

/** One entry as typed: the numbers as text, so that an empty field means "no limit". */
type Row = { key: number; model: string } & Record<LimitType, string>

let nextKey = 0

function rowsOf(limits: RateLimits): Row[] {
  return limits.limits.map((entry) => ({
    key: nextKey++,
    model: entry.model,
    requests_per_minute: entry.requests_per_minute?.toString() ?? '',
    tokens_per_minute: entry.tokens_per_minute?.toString() ?? '',
    tokens_per_month: entry.tokens_per_month?.toString() ?? '',
  }))
}

function figure(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('en-US')
}

/** A field's own error: the server's 400 naming `limits.<i>.<field>`, or a local one. */
interface FieldError {
  param: string
  message: string
}

/**
 * The rows as the API takes them, or the first field that is not a positive whole number (the
 * server would refuse it too; saying so here keeps the field's text instead of sending NaN).
 */
function parse(rows: Row[]): { input: EntryInput[] } | { invalid: FieldError } {
  const input: EntryInput[] = []
  for (const [index, row] of rows.entries()) {
    const entry: EntryInput = { model: row.model.trim() }
    if (entry.model === '') {
      return {
        invalid: { param: `limits.${index}.model`, message: 'Name a model, or * for every model.' },
      }
    }
    for (const [type] of TYPES) {
      const text = row[type].trim().replaceAll(',', '')
      if (text === '') entry[type] = null
      else if (/^[1-9]\d*$/.test(text)) entry[type] = Number(text)
      else {
        return {
          invalid: {
            param: `limits.${index}.${type}`,
            message: 'A whole number above 0, or empty for no limit.',
          },
        }
      }
    }
    input.push(entry)
  }
  return { input }
}

function RateLimitsForm(props: {
  /** Distinguishes this form's element ids from the other forms' on the page. */
  scope: string
  label: string
  limits: RateLimits
  save: (limits: EntryInput[], version: number) => Promise<unknown>
  /** Kept by the section: a save reloads the page's limits, which remounts this form. */
  saved: boolean
  onSaved: () => void
  onStart: () => void
}) {
  const [rows, setRows] = useState(() => rowsOf(props.limits))
  const [fieldError, setFieldError] = useState<FieldError | null>(null)
  const action = useAction()
  const id = (param: string) => `rl-${props.scope}-${param.replaceAll('.', '-')}`
  const titleId = id('title')

  const update = (key: number, field: keyof Row, text: string) =>
    setRows((current) => current.map((row) => (row.key === key ? { ...row, [field]: text } : row)))
  const add = () =>
    setRows((current) => [
      ...current,
      {
        key: nextKey++,
        model: current.some((row) => row.model.trim() === '*') ? '' : '*',
        requests_per_minute: '',
        tokens_per_minute: '',
        tokens_per_month: '',
      },
    ])
  const remove = (key: number) => setRows((current) => current.filter((row) => row.key !== key))

  // The field the error names gets the focus, so that a keyboard user lands where to fix it.
  const showFieldError = (error: FieldError) => {
    setFieldError(error)
    requestAnimationFrame(() => document.getElementById(id(error.param))?.focus())
  }

  const submit = async (event: Event) => {
    event.preventDefault()
    props.onStart()
    setFieldError(null)
    action.clear()
    const parsed = parse(rows)
    if ('invalid' in parsed) return showFieldError(parsed.invalid)
    let refused: ApiError | undefined
    const done = await action.run(async () => {
      try {
        await props.save(parsed.input, props.limits.version)
      } catch (error) {
        if (error instanceof ApiError && error.param && /^limits\.\d+\./.test(error.param)) {
          refused = error
        }
        throw error
      }
    })
    if (done) props.onSaved()
    else if (refused && document.getElementById(id(refused.param!))) {
      // Shown next to its field instead of above the form.
      action.clear()
      showFieldError({
        param: refused.param!,
        message: `${refused.status} ${refused.type}: ${refused.message}`,
      })
    }
  }

  const control = (index: number, row: Row, field: 'model' | LimitType, label: string) => {
    const param = `limits.${index}.${field}`
    const invalid = fieldError?.param === param
    return (
      <div class="field">
        <label for={id(param)}>{label}</label>
        <input
          id={id(param)}
          value={row[field]}
          inputMode={field === 'model' ? undefined : 'numeric'}
          placeholder={field === 'model' ? '* or a model name' : 'no limit'}
          aria-invalid={invalid ? 'true' : undefined}
          aria-describedby={invalid ? id(`${param}-error`) : undefined}
          onInput={(event) => update(row.key, field, value(event))}
        />
        {invalid ? (
          <small class="error" id={id(`${param}-error`)} role="alert">
            {fieldError.message}
          </small>
        ) : null}
      </div>
    )
  }

  return (
    <form onSubmit={submit} class="limit" aria-labelledby={titleId}>
      <h3 id={titleId}>{props.label}</h3>
      <fieldset disabled={action.busy}>
        <legend class="sr-only">Edit {props.label}</legend>
        {rows.length === 0 ? <p class="muted">No rate limit at this level.</p> : null}
        {rows.map((row, index) => (
          <fieldset key={row.key} class="inline">
            <legend>Model entry {index + 1}</legend>
            {control(index, row, 'model', 'Model')}
            {TYPES.map(([type, label]) => control(index, row, type, label))}
            <button type="button" onClick={() => remove(row.key)}>
              Remove entry {index + 1}
            </button>
          </fieldset>
        ))}
        {rows.length > 0 ? <p class="muted">Empty field: no limit at this level.</p> : null}
        <div class="row">
          <button type="button" onClick={add}>
            Add a model entry
          </button>
          <button type="submit">Save {props.label.toLowerCase()}</button>
        </div>
      </fieldset>
      {props.saved ? <p role="status">Saved.</p> : null}
      <ErrorNote error={action.error} />
    </form>
  )
}

/** The limits of one level as a table: what a key that may not change them sees. */
function LimitsTable(props: { caption: string; limits: RateLimits }) {
  return (
    <Table
      caption={props.caption}
      rows={props.limits.limits}
      rowKey={(entry) => entry.model}
      columns={[
        { header: 'Model', cell: (entry) => entry.model },
        ...TYPES.map(([type, label]) => ({
          header: label,
          numeric: true,
          cell: (entry: RateLimits['limits'][number]) => figure(entry[type]),
        })),
      ]}
    />
  )
}

const LABELS = new Map(TYPES)

/** Every value in force in a workspace and where it comes from (include_inherited=true). */
function EffectiveTable(props: { caption: string; effective: Effective[] }) {
  return (
    <Table
      caption={props.caption}
      testId="effective-rate-limits"
      rows={props.effective}
      rowKey={(e) => `${e.model}|${e.limit_type}`}
      columns={[
        { header: 'Model', cell: (e) => e.model },
        { header: 'Limit', cell: (e) => LABELS.get(e.limit_type) ?? e.limit_type },
        { header: 'In force', numeric: true, cell: (e) => figure(e.value) },
        { header: 'Source', cell: (e) => e.source },
        { header: 'Organization value', numeric: true, cell: (e) => figure(e.organization_value) },
      ]}
    />
  )
}

// A configuration never saved has version 0: nothing to match yet.
const ifMatch = (version: number) => (version > 0 ? { 'if-match': `"${version}"` } : undefined)

/**
 * Rate limits on the Budgets & limits page (docs/rate-limits.md): the organization's defaults
 * and each active workspace's own values with what is in force there. Editable only when the
 * key's policies allow update_rate_limits; the server decides every change. Shown only to keys
 * that may read_rate_limits (budgets.tsx).
 */
export function RateLimitsSection() {
  const { client, can } = useConsole()
  const editable = can('update_rate_limits')
  const [savedScope, setSavedScope] = useState<string | null>(null)
  const saved = (scope: string) => ({
    saved: savedScope === scope,
    onSaved: () => {
      setSavedScope(scope)
      data.reload()
    },
    onStart: () => setSavedScope(null),
  })
  const data = useLoad(async () => {
    const active = (await lists.workspaces(client)).filter((w) => w.status === 'active')
    const [org, ...perWorkspace] = await Promise.all([
      ok(client.GET('/v1/rate-limits')),
      ...active.map((workspace) =>
        ok(
          client.GET('/v1/workspaces/{id}/rate-limits', {
            params: { path: { id: workspace.id }, query: { include_inherited: 'true' } },
          })
        )
      ),
    ])
    return {
      org: org!,
      workspaces: active.map((w, i) => ({ workspace: w, limits: perWorkspace[i]! })),
    }
  }, [])
  return (
    <Section title="Rate limits">
      <p class="muted">
        Per model or <code>*</code> (every model). An organization value counts all its workspaces
        together; a workspace value counts that workspace and may not be above the organization's.
      </p>
      <ErrorNote error={data.error} />
      {data.loading && !data.data ? <Loading what="rate limits" /> : null}
      {data.data ? (
        <>
          {editable ? (
            <RateLimitsForm
              key={`org-${data.data.org.version}`}
              scope="org"
              label="Organization rate limits"
              limits={data.data.org}
              {...saved('org')}
              save={(limits, version) =>
                ok(
                  client.PUT('/v1/rate-limits', {
                    body: { limits },
                    params: { header: ifMatch(version) },
                  })
                )
              }
            />
          ) : (
            <LimitsTable caption="Organization rate limits" limits={data.data.org} />
          )}
          {data.data.workspaces.map(({ workspace, limits }) => (
            // Not remounted by an organization change: what is typed here meanwhile stays.
            <div key={`${workspace.id}-${limits.version}`}>
              {editable ? (
                <RateLimitsForm
                  scope={workspace.id}
                  label={`${workspace.name} workspace rate limits`}
                  limits={limits}
                  {...saved(workspace.id)}
                  save={(body, version) =>
                    ok(
                      client.PUT('/v1/workspaces/{id}/rate-limits', {
                        body: { limits: body },
                        params: { path: { id: workspace.id }, header: ifMatch(version) },
                      })
                    )
                  }
                />
              ) : (
                <LimitsTable caption={`${workspace.name} workspace rate limits`} limits={limits} />
              )}
              <EffectiveTable
                caption={`In force in workspace ${workspace.name}`}
                effective={limits.effective ?? []}
              />
            </div>
          ))}
        </>
      ) : null}
    </Section>
  )
}
