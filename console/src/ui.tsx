import type { ComponentChildren, TargetedEvent } from 'preact'
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { ApiError } from './api'

/** Loads once per change of `deps`; `reload` re-runs it (after a change the page made). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: true,
  })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    let live = true
    setState((previous) => ({ ...previous, loading: true }))
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false })
    )
    return () => {
      live = false
    }
  }, [...deps, tick])
  const reload = useCallback(() => setTick((n) => n + 1), [])
  return { ...state, reload }
}

/** Runs a change; remembers its error to show it, and reports success. */
export function useAction() {
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  const run = useCallback(async (action: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true)
    setError(undefined)
    try {
      await action()
      return true
    } catch (caught) {
      setError(caught)
      return false
    } finally {
      setBusy(false)
    }
  }, [])
  return { error, busy, run, clear: () => setError(undefined) }
}

/**
 * A button that sends one request through the page's action (its error is shown by the page),
 * then calls `then` (e.g. a reload), whether or not the request succeeded.
 */
export function RunButton(props: {
  action: ReturnType<typeof useAction>
  request: () => Promise<unknown>
  then: () => void
  label?: string
  children: ComponentChildren
}) {
  return (
    <button
      type="button"
      aria-label={props.label}
      onClick={() => void props.action.run(props.request).then(() => props.then())}
    >
      {props.children}
    </button>
  )
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    const where = error.param ? ` (${error.param})` : ''
    return `${error.message}${where}`
  }
  return error instanceof Error ? error.message : String(error)
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null
  const status = error instanceof ApiError ? `${error.status} ${error.type}: ` : ''
  return (
    <p class="error" role="alert">
      {status}
      {messageOf(error)}
    </p>
  )
}

export function Loading({ what }: { what: string }) {
  return <p aria-live="polite">Loading {what}…</p>
}

export function Page(props: {
  title: string
  children: ComponentChildren
  actions?: ComponentChildren
}) {
  const heading = useRef<HTMLHeadingElement>(null)
  // After navigation, focus moves to the page's heading (screen readers announce it).
  useEffect(() => heading.current?.focus(), [props.title])
  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1} ref={heading}>
          {props.title}
        </h1>
        {props.actions}
      </div>
      {props.children}
    </section>
  )
}

export function Section(props: { title: string; children: ComponentChildren; id?: string }) {
  const id = props.id ?? `s-${props.title.toLowerCase().replaceAll(/[^a-z0-9]+/g, '-')}`
  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>{props.title}</h2>
      {props.children}
    </section>
  )
}

export function Field(props: { label: string; children: ComponentChildren; hint?: string }) {
  return (
    // biome-ignore lint/a11y/noLabelWithoutControl: the control is the child, so the label wraps it
    <label class="field">
      <span>{props.label}</span>
      {props.children}
      {props.hint ? <small>{props.hint}</small> : null}
    </label>
  )
}

export interface Column<T> {
  header: string
  cell: (row: T) => ComponentChildren
  numeric?: boolean
}

export function Table<T>(props: {
  caption: string
  columns: Column<T>[]
  rows: T[]
  rowKey: (row: T) => string
  footer?: ComponentChildren
  testId?: string
}) {
  return (
    // Focusable, so that a table wider than the screen scrolls with the keyboard too.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be focusable (WCAG 2.1.1)
    <section class="table-wrap" aria-label={props.caption} tabIndex={0}>
      <table data-testid={props.testId}>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th scope="col" class={column.numeric ? 'num' : undefined} key={column.header}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.length === 0 ? (
            <tr>
              <td colSpan={props.columns.length}>None.</td>
            </tr>
          ) : (
            props.rows.map((row) => (
              <tr key={props.rowKey(row)}>
                {props.columns.map((column) => (
                  <td class={column.numeric ? 'num' : undefined} key={column.header}>
                    {column.cell(row)}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
        {props.footer ? <tfoot>{props.footer}</tfoot> : null}
      </table>
    </section>
  )
}

/** A secret shown once, right after it was created or rotated. */
export function SecretOnce(props: { label: string; secret: string; onDone: () => void }) {
  return (
    <div class="secret" role="status">
      <p>
        <strong>{props.label}</strong> — copy it now: it is shown only once.
      </p>
      <code data-testid="secret">{props.secret}</code>
      <div class="row">
        <button type="button" onClick={() => void navigator.clipboard?.writeText(props.secret)}>
          Copy
        </button>
        <button type="button" onClick={props.onDone}>
          Done
        </button>
      </div>
    </div>
  )
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge badge-${state}`}>{state}</span>
}

export type InputEvent = TargetedEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>

export function value(event: InputEvent): string {
  return event.currentTarget.value
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')
}

/** Saves text as a file named `name` (the CSV of what a table shows). */
export function download(name: string, text: string, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const link = document.createElement('a')
  link.href = url
  link.download = name
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

/** RFC 4180 CSV: fields quoted when they hold a comma, quote or line break. */
export function toCsv(rows: (string | number | null)[][]): string {
  const field = (value: string | number | null) => {
    const text = value === null ? '' : String(value)
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
  }
  return `${rows.map((row) => row.map(field).join(',')).join('\r\n')}\r\n`
}
