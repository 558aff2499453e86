import { useRef, useState } from 'preact/hooks'
import { ApiError, type Diagnostic, ok, type Schemas } from '../api'
import { useConsole } from '../session'
import {
  ErrorNote,
  Field,
  Loading,
  RunButton,
  Section,
  Table,
  useAction,
  useLoad,
  value,
} from '../ui'
import { ifMatch } from './shared'

type Policy = Schemas['Policy']

const EXAMPLE = `// Example: no chat with the largest model in any workspace.
forbid (principal, action == Action::"use_chat", resource)
when { context has model && context.model == "claude-opus-4" };
`

function offsetOf(text: string, line: number, column: number): number {
  const lines = text.split('\n')
  let offset = 0
  for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i]!.length + 1
  return offset + Math.max(0, column - 1)
}

function Editor(props: { policy: Policy | null; onSaved: () => void }) {
  const { client } = useConsole()
  const [id, setId] = useState(props.policy?.id ?? '')
  const [description, setDescription] = useState(props.policy?.description ?? '')
  const [cedar, setCedar] = useState(props.policy?.cedar ?? EXAMPLE)
  const [diagnostics, setDiagnostics] = useState<Diagnostic[]>([])
  const [result, setResult] = useState<string | null>(null)
  const action = useAction()
  const area = useRef<HTMLTextAreaElement>(null)
  const check = async (save: boolean) => {
    setDiagnostics([])
    setResult(null)
    const done = await action.run(async () => {
      try {
        if (save) {
          const header = props.policy?.version ? ifMatch(props.policy.version) : undefined
          await ok(
            client.PUT('/v1/policies/{id}', {
              params: { path: { id }, header },
              body: { cedar, description },
            })
          )
        } else {
          const validation = await ok(client.POST('/v1/policies/validate', { body: { cedar } }))
          setDiagnostics(validation.warnings)
        }
      } catch (error) {
        if (error instanceof ApiError) setDiagnostics(error.diagnostics)
        throw error
      }
    })
    if (done) {
      setResult(save ? `Saved policy ${id}.` : 'Valid.')
      if (save) props.onSaved()
    }
  }
  const jump = (d: Diagnostic) => {
    const element = area.current
    if (!element || d.line === null) return
    const start = offsetOf(cedar, d.line, d.column ?? 1)
    const end = d.end_line !== null ? offsetOf(cedar, d.end_line, d.end_column ?? 1) : start + 1
    element.focus()
    element.setSelectionRange(start, Math.max(end, start + 1))
  }
  return (
    <Section title={props.policy ? `Edit policy ${props.policy.id}` : 'New custom policy'}>
      <form
        onSubmit={(event) => {
          event.preventDefault()
          void check(true)
        }}
      >
        <Field label="Policy id" hint="a-z, 0-9 and '-', up to 64">
          <input
            required
            pattern="[a-z0-9-]{1,64}"
            value={id}
            readOnly={props.policy !== null}
            onInput={(e) => setId(value(e))}
          />
        </Field>
        <Field label="Description">
          <input value={description} onInput={(e) => setDescription(value(e))} />
        </Field>
        <Field label="Cedar">
          <textarea
            ref={area}
            class="code"
            rows={10}
            spellcheck={false}
            value={cedar}
            onInput={(e) => setCedar(value(e))}
          />
        </Field>
        <div class="row">
          <button type="button" onClick={() => void check(false)}>
            Validate
          </button>
          <button type="submit">Save policy</button>
        </div>
      </form>
      {result ? <p role="status">{result}</p> : null}
      <ErrorNote error={action.error} />
      {diagnostics.length > 0 ? (
        <ul class="diagnostics" data-testid="diagnostics" aria-label="Cedar diagnostics">
          {diagnostics.map((d, i) => (
            <li key={i}>
              <button type="button" onClick={() => jump(d)}>
                line {d.line ?? '?'}, column {d.column ?? '?'}
              </button>
              : {d.message}
              {d.help ? <small> — {d.help}</small> : null}
            </li>
          ))}
        </ul>
      ) : null}
    </Section>
  )
}

export function PoliciesSection() {
  const { client, can } = useConsole()
  const policies = useLoad(() => ok(client.GET('/v1/policies')), [])
  const [editing, setEditing] = useState<Policy | null | undefined>(undefined)
  const action = useAction()
  const manage = can('manage_policies')
  return (
    <>
      {manage ? (
        <div class="row">
          <button type="button" onClick={() => setEditing(null)}>
            New custom policy
          </button>
        </div>
      ) : null}
      {manage && editing !== undefined ? (
        <Editor
          key={editing?.id ?? 'new'}
          policy={editing}
          onSaved={() => {
            policies.reload()
          }}
        />
      ) : null}
      <ErrorNote error={action.error ?? policies.error} />
      <Section title="Policies">
        {policies.data ? (
          <Table
            caption="Built-in and custom policies"
            rows={policies.data.data}
            rowKey={(p) => p.id}
            columns={[
              { header: 'Id', cell: (p) => <code>{p.id}</code> },
              { header: 'Source', cell: (p) => p.source },
              { header: 'Effect', cell: (p) => p.effect },
              { header: 'Description', cell: (p) => p.description },
              {
                header: 'Actions',
                cell: (p) =>
                  manage && p.source === 'custom' ? (
                    <div class="row">
                      <button type="button" onClick={() => setEditing(p)}>
                        Edit {p.id}
                      </button>
                      <RunButton
                        action={action}
                        request={() =>
                          ok(
                            client.DELETE('/v1/policies/{id}', {
                              params: { path: { id: p.id } },
                            })
                          )
                        }
                        then={policies.reload}
                      >
                        Delete {p.id}
                      </RunButton>
                    </div>
                  ) : null,
              },
            ]}
          />
        ) : (
          <Loading what="policies" />
        )}
      </Section>
    </>
  )
}
