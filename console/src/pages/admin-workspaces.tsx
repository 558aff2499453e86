import { useState } from 'preact/hooks'
import { ok, type Schemas } from '../api'
import { useConsole } from '../session'
import { ErrorNote, Field, Loading, Section, Table, useAction, useLoad, value } from '../ui'
import { ifMatch, lists } from './shared'

type Workspace = Schemas['Workspace']

function Rename(props: { workspace: Workspace; onDone: () => void }) {
  const { client } = useConsole()
  const [name, setName] = useState(props.workspace.name)
  const action = useAction()
  return (
    <form
      class="inline"
      onSubmit={async (event) => {
        event.preventDefault()
        const done = await action.run(() =>
          ok(
            client.PATCH('/v1/workspaces/{id}', {
              params: {
                path: { id: props.workspace.id },
                header: ifMatch(props.workspace.version),
              },
              body: { name },
            })
          )
        )
        if (done) props.onDone()
      }}
    >
      <Field label={`New name for ${props.workspace.name}`}>
        <input required value={name} onInput={(event) => setName(value(event))} />
      </Field>
      <button type="submit">Rename</button>
      <ErrorNote error={action.error} />
    </form>
  )
}

export function WorkspacesSection() {
  const { client, can } = useConsole()
  const workspaces = useLoad(() => lists.workspaces(client), [])
  const [name, setName] = useState('')
  const [renaming, setRenaming] = useState<string | null>(null)
  const create = useAction()
  const change = useAction()
  return (
    <>
      {can('create_workspace') ? (
        <Section title="Create a workspace">
          <form
            class="inline"
            onSubmit={async (event) => {
              event.preventDefault()
              if (await create.run(() => ok(client.POST('/v1/workspaces', { body: { name } })))) {
                setName('')
                workspaces.reload()
              }
            }}
          >
            <Field label="Workspace name">
              <input required value={name} onInput={(event) => setName(value(event))} />
            </Field>
            <button type="submit" disabled={create.busy}>
              Create workspace
            </button>
          </form>
          <ErrorNote error={create.error} />
        </Section>
      ) : null}
      <Section title="Workspaces">
        <ErrorNote error={workspaces.error ?? change.error} />
        {workspaces.data ? (
          <Table
            caption="Workspaces of the organization"
            rows={workspaces.data}
            rowKey={(w) => w.id}
            columns={[
              { header: 'Name', cell: (w) => w.name },
              { header: 'Id', cell: (w) => <code>{w.id}</code> },
              {
                header: 'Status',
                cell: (w) => (w.is_default ? `${w.status} (default)` : w.status),
              },
              {
                header: 'Actions',
                cell: (w) => (
                  <div class="row">
                    {can('update_workspace') ? (
                      renaming === w.id ? (
                        <Rename
                          workspace={w}
                          onDone={() => {
                            setRenaming(null)
                            workspaces.reload()
                          }}
                        />
                      ) : (
                        <button type="button" onClick={() => setRenaming(w.id)}>
                          Rename {w.name}
                        </button>
                      )
                    ) : null}
                    {can('archive_workspace') && !w.is_default ? (
                      <button
                        type="button"
                        onClick={async () => {
                          const path = { id: w.id }
                          const done = await change.run(() =>
                            ok(
                              w.status === 'active'
                                ? client.POST('/v1/workspaces/{id}/archive', { params: { path } })
                                : client.POST('/v1/workspaces/{id}/unarchive', { params: { path } })
                            )
                          )
                          if (done) workspaces.reload()
                        }}
                      >
                        {w.status === 'active' ? 'Archive' : 'Unarchive'} {w.name}
                      </button>
                    ) : null}
                  </div>
                ),
              },
            ]}
          />
        ) : (
          <Loading what="workspaces" />
        )}
      </Section>
    </>
  )
}
