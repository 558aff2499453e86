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
import { ifMatch, lists, ORG_ROLES } from './shared'

type Member = Schemas['Member']
type OrgRole = Schemas['OrgRole']
type AccessSource = Schemas['AccessSource']

function sourceText(source: AccessSource): string {
  return source.type === 'direct' ? 'direct grant' : `group ${source.path.join(' › ')}`
}

function EffectiveAccess({ member }: { member: Member }) {
  const { client } = useConsole()
  const access = useLoad(
    () =>
      ok(client.GET('/v1/members/{id}/effective-access', { params: { path: { id: member.id } } })),
    [member.id]
  )
  if (access.error) return <ErrorNote error={access.error} />
  if (!access.data) return <Loading what="effective access" />
  const rows = access.data.workspaces.flatMap((workspace) =>
    workspace.roles.map((role) => ({ workspace, role }))
  )
  return (
    <div data-testid="effective-access">
      <h3>Effective access of {member.email}</h3>
      <p>
        Organization roles:{' '}
        {access.data.org_roles
          .map((r) => `${r.role} (${r.sources.map(sourceText).join('; ')})`)
          .join(', ')}
      </p>
      <Table
        caption={`Workspace roles of ${member.email}, with where each comes from`}
        rows={rows}
        rowKey={(row) => `${row.workspace.workspace_id}|${row.role.role}`}
        columns={[
          { header: 'Workspace', cell: (row) => row.workspace.workspace_name },
          { header: 'Role', cell: (row) => row.role.role },
          { header: 'From', cell: (row) => row.role.sources.map(sourceText).join('; ') },
        ]}
      />
    </div>
  )
}

function AddMember(props: { onAdded: () => void }) {
  const { client } = useConsole()
  const [form, setForm] = useState({ email: '', name: '', org_role: 'member' as OrgRole })
  const action = useAction()
  return (
    <Section title="Add a member">
      <form
        class="inline"
        onSubmit={async (event) => {
          event.preventDefault()
          if (await action.run(() => ok(client.POST('/v1/members', { body: form })))) {
            setForm({ email: '', name: '', org_role: 'member' })
            props.onAdded()
          }
        }}
      >
        <Field label="Email">
          <input
            type="email"
            required
            value={form.email}
            onInput={(event) => setForm({ ...form, email: value(event) })}
          />
        </Field>
        <Field label="Name">
          <input
            required
            value={form.name}
            onInput={(event) => setForm({ ...form, name: value(event) })}
          />
        </Field>
        <Field label="Organization role">
          <select
            value={form.org_role}
            onChange={(event) => setForm({ ...form, org_role: value(event) as OrgRole })}
          >
            {ORG_ROLES.map((role) => (
              <option key={role}>{role}</option>
            ))}
          </select>
        </Field>
        <button type="submit" disabled={action.busy}>
          Add member
        </button>
      </form>
      <ErrorNote error={action.error} />
    </Section>
  )
}

function Invites() {
  const { client, can } = useConsole()
  const invites = useLoad(
    () =>
      all((after) => ok(client.GET('/v1/invites', { params: { query: { limit: 100, after } } }))),
    []
  )
  const [email, setEmail] = useState('')
  const [role, setRole] = useState<OrgRole>('member')
  const [token, setToken] = useState<string | null>(null)
  const action = useAction()
  const manage = can('manage_invites')
  return (
    <Section title="Invites">
      {manage ? (
        <form
          class="inline"
          onSubmit={async (event) => {
            event.preventDefault()
            await action.run(async () => {
              const invite = await ok(
                client.POST('/v1/invites', { body: { email, org_role: role } })
              )
              setToken(invite.token)
              setEmail('')
              invites.reload()
            })
          }}
        >
          <Field label="Invite email">
            <input type="email" required value={email} onInput={(e) => setEmail(value(e))} />
          </Field>
          <Field label="Invited role">
            <select value={role} onChange={(e) => setRole(value(e) as OrgRole)}>
              {ORG_ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </Field>
          <button type="submit">Invite</button>
        </form>
      ) : null}
      {token ? (
        <SecretOnce label="Invite token" secret={token} onDone={() => setToken(null)} />
      ) : null}
      <ErrorNote error={action.error ?? invites.error} />
      {invites.data ? (
        <Table
          caption="Open invites"
          rows={invites.data}
          rowKey={(invite) => invite.id}
          columns={[
            { header: 'Email', cell: (invite) => invite.email },
            { header: 'Role', cell: (invite) => invite.org_role },
            { header: 'Status', cell: (invite) => invite.status },
            { header: 'Expires', cell: (invite) => formatTime(invite.expires_at) },
            {
              header: 'Actions',
              cell: (invite) =>
                manage && invite.status === 'pending' ? (
                  <RunButton
                    action={action}
                    request={() =>
                      ok(
                        client.DELETE('/v1/invites/{id}', {
                          params: { path: { id: invite.id } },
                        })
                      )
                    }
                    then={invites.reload}
                  >
                    Revoke invite {invite.email}
                  </RunButton>
                ) : null,
            },
          ]}
        />
      ) : null}
    </Section>
  )
}

export function MembersSection() {
  const { client, can } = useConsole()
  const members = useLoad(() => lists.members(client), [])
  const [inspected, setInspected] = useState<Member | null>(null)
  const change = useAction()
  const manage = can('manage_members')
  const patch = (member: Member, body: { org_role?: OrgRole; status?: 'active' | 'deactivated' }) =>
    change
      .run(() =>
        ok(
          client.PATCH('/v1/members/{id}', {
            params: { path: { id: member.id }, header: ifMatch(member.version) },
            body,
          })
        )
      )
      .then(members.reload)
  return (
    <>
      {manage ? <AddMember onAdded={members.reload} /> : null}
      <Section title="Members">
        <ErrorNote error={members.error ?? change.error} />
        {members.data ? (
          <Table
            testId="members-table"
            caption="Members of the organization"
            rows={members.data}
            rowKey={(m) => m.id}
            columns={[
              { header: 'Email', cell: (m) => m.email },
              { header: 'Name', cell: (m) => m.name },
              {
                header: 'Role',
                cell: (m) =>
                  manage ? (
                    <select
                      aria-label={`Organization role of ${m.email}`}
                      value={m.org_role}
                      onChange={(event) => void patch(m, { org_role: value(event) as OrgRole })}
                    >
                      {ORG_ROLES.map((role) => (
                        <option key={role}>{role}</option>
                      ))}
                    </select>
                  ) : (
                    m.org_role
                  ),
              },
              { header: 'Status', cell: (m) => m.status },
              {
                header: 'Actions',
                cell: (m) => (
                  <div class="row">
                    <button type="button" onClick={() => setInspected(m)}>
                      Access of {m.email}
                    </button>
                    {manage ? (
                      <button
                        type="button"
                        onClick={() =>
                          void patch(m, {
                            status: m.status === 'active' ? 'deactivated' : 'active',
                          })
                        }
                      >
                        {m.status === 'active' ? 'Deactivate' : 'Reactivate'} {m.email}
                      </button>
                    ) : null}
                  </div>
                ),
              },
            ]}
          />
        ) : (
          <Loading what="members" />
        )}
        {inspected ? <EffectiveAccess member={inspected} /> : null}
      </Section>
      {can('read_invites') ? <Invites /> : null}
    </>
  )
}
