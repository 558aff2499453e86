import { useState } from 'preact/hooks'
import { all, ok, type Schemas } from '../api'
import { useConsole } from '../session'
import {
  ErrorNote,
  Field,
  formatTime,
  Loading,
  RunButton,
  SecretOnce,
  Section,
  Table,
  useAction,
  useLoad,
  value,
} from '../ui'
import { lists, ORG_ROLES } from './shared'

type OrgRole = Schemas['OrgRole']

/** Workspace API keys (sk_): create and rotate show the secret once; revoke. */
export function ApiKeysSection() {
  const { client, can } = useConsole()
  const data = useLoad(async () => {
    const [keys, workspaces] = await Promise.all([
      all((after) => ok(client.GET('/v1/api-keys', { params: { query: { limit: 100, after } } }))),
      lists.workspaces(client),
    ])
    return { keys, workspaces }
  }, [])
  const [name, setName] = useState('')
  const [workspaceId, setWorkspaceId] = useState('')
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null)
  const action = useAction()
  const manage = can('manage_workspace_api_keys')
  if (data.error) return <ErrorNote error={data.error} />
  if (!data.data) return <Loading what="API keys" />
  const names = new Map(data.data.workspaces.map((w) => [w.id, w.name]))
  const active = data.data.workspaces.filter((w) => w.status === 'active')
  return (
    <>
      {manage ? (
        <Section title="Create an API key">
          <form
            class="inline"
            onSubmit={async (event) => {
              event.preventDefault()
              const workspace_id = workspaceId || active[0]?.id || ''
              await action.run(async () => {
                const key = await ok(client.POST('/v1/api-keys', { body: { name, workspace_id } }))
                setSecret({ label: `API key ${key.name}`, value: key.secret })
                setName('')
                data.reload()
              })
            }}
          >
            <Field label="Key name">
              <input required value={name} onInput={(e) => setName(value(e))} />
            </Field>
            <Field label="Workspace">
              <select value={workspaceId} onChange={(e) => setWorkspaceId(value(e))}>
                {active.map((w) => (
                  <option value={w.id} key={w.id}>
                    {w.name}
                  </option>
                ))}
              </select>
            </Field>
            <button type="submit">Create API key</button>
          </form>
        </Section>
      ) : null}
      {secret ? (
        <SecretOnce label={secret.label} secret={secret.value} onDone={() => setSecret(null)} />
      ) : null}
      <ErrorNote error={action.error} />
      <Section title="API keys">
        <Table
          caption="Workspace API keys"
          rows={data.data.keys}
          rowKey={(k) => k.id}
          columns={[
            { header: 'Name', cell: (k) => k.name },
            { header: 'Workspace', cell: (k) => names.get(k.workspace_id) ?? k.workspace_id },
            { header: 'Key', cell: (k) => <code>{k.redacted_value}</code> },
            { header: 'Status', cell: (k) => k.status },
            { header: 'Last used', cell: (k) => formatTime(k.last_used_at) },
            { header: 'Expires', cell: (k) => formatTime(k.expires_at) },
            {
              header: 'Actions',
              cell: (k) =>
                manage && k.status === 'active' ? (
                  <div class="row">
                    <button
                      type="button"
                      onClick={() =>
                        void action.run(async () => {
                          const rotated = await ok(
                            client.POST('/v1/api-keys/{id}/rotate', {
                              params: { path: { id: k.id } },
                            })
                          )
                          setSecret({ label: `New secret of ${k.name}`, value: rotated.secret })
                          data.reload()
                        })
                      }
                    >
                      Rotate {k.name}
                    </button>
                    <RunButton
                      action={action}
                      request={() =>
                        ok(client.DELETE('/v1/api-keys/{id}', { params: { path: { id: k.id } } }))
                      }
                      then={data.reload}
                    >
                      Revoke {k.name}
                    </RunButton>
                  </div>
                ) : null,
            },
          ]}
        />
      </Section>
    </>
  )
}

/** Admin keys (adm_): the keys this console signs in with. */
export function AdminKeysSection() {
  const { client, can, session } = useConsole()
  const keys = useLoad(
    () =>
      all((after) =>
        ok(client.GET('/v1/admin-keys', { params: { query: { limit: 100, after } } }))
      ),
    []
  )
  const [name, setName] = useState('')
  const [roles, setRoles] = useState<OrgRole[]>(['billing_manager'])
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null)
  const action = useAction()
  const manage = can('manage_admin_keys')
  return (
    <>
      {manage ? (
        <Section title="Create an admin key">
          <form
            onSubmit={async (event) => {
              event.preventDefault()
              await action.run(async () => {
                const key = await ok(
                  client.POST('/v1/admin-keys', { body: { name, org_roles: roles } })
                )
                setSecret({ label: `Admin key ${key.name}`, value: key.secret })
                setName('')
                keys.reload()
              })
            }}
          >
            <Field label="Admin key name">
              <input required value={name} onInput={(e) => setName(value(e))} />
            </Field>
            <fieldset>
              <legend>Organization roles</legend>
              <div class="checks">
                {ORG_ROLES.map((role) => (
                  <label key={role}>
                    <input
                      type="checkbox"
                      checked={roles.includes(role)}
                      onChange={(e) =>
                        setRoles(
                          e.currentTarget.checked
                            ? [...roles, role]
                            : roles.filter((r) => r !== role)
                        )
                      }
                    />{' '}
                    {role}
                  </label>
                ))}
              </div>
            </fieldset>
            <button type="submit">Create admin key</button>
          </form>
        </Section>
      ) : null}
      {secret ? (
        <SecretOnce label={secret.label} secret={secret.value} onDone={() => setSecret(null)} />
      ) : null}
      <ErrorNote error={action.error ?? keys.error} />
      <Section title="Admin keys">
        {keys.data ? (
          <Table
            caption="Admin keys of the organization"
            rows={keys.data}
            rowKey={(k) => k.id}
            columns={[
              {
                header: 'Name',
                cell: (k) => (k.id === session.admin_key_id ? `${k.name} (this key)` : k.name),
              },
              { header: 'Roles', cell: (k) => k.org_roles.join(', ') },
              { header: 'Key', cell: (k) => <code>{k.redacted_value}</code> },
              { header: 'Status', cell: (k) => k.status },
              { header: 'Expires', cell: (k) => formatTime(k.expires_at) },
              {
                header: 'Actions',
                cell: (k) =>
                  manage && k.status === 'active' ? (
                    <RunButton
                      action={action}
                      request={() =>
                        ok(
                          client.DELETE('/v1/admin-keys/{id}', {
                            params: { path: { id: k.id } },
                          })
                        )
                      }
                      then={keys.reload}
                    >
                      Revoke {k.name}
                    </RunButton>
                  ) : null,
              },
            ]}
          />
        ) : (
          <Loading what="admin keys" />
        )}
      </Section>
    </>
  )
}

/** SCIM tokens (scim_) for identity providers. */
export function ScimTokensSection() {
  const { client, can } = useConsole()
  const tokens = useLoad(
    () =>
      all((after) =>
        ok(client.GET('/v1/scim-tokens', { params: { query: { limit: 100, after } } }))
      ),
    []
  )
  const [name, setName] = useState('')
  const [secret, setSecret] = useState<string | null>(null)
  const action = useAction()
  const manage = can('manage_scim_tokens')
  return (
    <>
      {manage ? (
        <Section title="Create a SCIM token">
          <form
            class="inline"
            onSubmit={async (event) => {
              event.preventDefault()
              await action.run(async () => {
                const token = await ok(client.POST('/v1/scim-tokens', { body: { name } }))
                setSecret(token.secret)
                setName('')
                tokens.reload()
              })
            }}
          >
            <Field label="Token name">
              <input required value={name} onInput={(e) => setName(value(e))} />
            </Field>
            <button type="submit">Create SCIM token</button>
          </form>
        </Section>
      ) : null}
      {secret ? (
        <SecretOnce label="SCIM token" secret={secret} onDone={() => setSecret(null)} />
      ) : null}
      <ErrorNote error={action.error ?? tokens.error} />
      <Section title="SCIM tokens">
        {tokens.data ? (
          <Table
            caption="SCIM tokens of the organization"
            rows={tokens.data}
            rowKey={(t) => t.id}
            columns={[
              { header: 'Name', cell: (t) => t.name },
              { header: 'Token', cell: (t) => <code>{t.redacted_value}</code> },
              { header: 'Status', cell: (t) => t.status },
              { header: 'Created', cell: (t) => formatTime(t.created_at) },
              {
                header: 'Actions',
                cell: (t) =>
                  manage && t.status === 'active' ? (
                    <RunButton
                      action={action}
                      request={() =>
                        ok(
                          client.DELETE('/v1/scim-tokens/{id}', {
                            params: { path: { id: t.id } },
                          })
                        )
                      }
                      then={tokens.reload}
                    >
                      Revoke {t.name}
                    </RunButton>
                  ) : null,
              },
            ]}
          />
        ) : (
          <Loading what="SCIM tokens" />
        )}
      </Section>
    </>
  )
}
