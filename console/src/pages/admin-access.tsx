import { useState } from 'preact/hooks'
import { all, ok, type Schemas } from '../api'
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
import { ifMatch, lists, WORKSPACE_ROLES } from './shared'

type WorkspaceRole = Schemas['WorkspaceRole']
type Product = Schemas['Product']

/** Workspace grants: who holds which roles in a workspace, directly or through a group. */
export function AccessSection() {
  const { client, can } = useConsole()
  const pickers = useLoad(async () => {
    const [workspaces, members, groups] = await Promise.all([
      lists.workspaces(client),
      lists.members(client),
      lists.groups(client),
    ])
    return { workspaces, members, groups }
  }, [])
  const [workspaceId, setWorkspaceId] = useState('')
  const chosen = workspaceId || pickers.data?.workspaces[0]?.id || ''
  const grants = useLoad(
    async () =>
      chosen
        ? all((after) =>
            ok(
              client.GET('/v1/workspaces/{id}/access', {
                params: { path: { id: chosen }, query: { limit: 100, after } },
              })
            )
          )
        : [],
    [chosen]
  )
  const [principal, setPrincipal] = useState('')
  const [roles, setRoles] = useState<WorkspaceRole[]>([])
  const action = useAction()
  const workspace = pickers.data?.workspaces.find((w) => w.id === chosen)
  const manage = can('manage_workspace_access')
  const nameOf = (type: string, id: string) =>
    type === 'member'
      ? (pickers.data?.members.find((m) => m.id === id)?.email ?? id)
      : `group ${pickers.data?.groups.find((g) => g.id === id)?.name ?? id}`

  const put = (
    type: 'member' | 'group',
    id: string,
    body: { roles: WorkspaceRole[] },
    version?: number
  ) => {
    const header = version ? ifMatch(version) : undefined
    return type === 'member'
      ? client.PUT('/v1/workspaces/{id}/access/members/{member_id}', {
          params: { path: { id: chosen, member_id: id }, header },
          body,
        })
      : client.PUT('/v1/workspaces/{id}/access/groups/{group_id}', {
          params: { path: { id: chosen, group_id: id }, header },
          body,
        })
  }
  const remove = (type: 'member' | 'group', id: string) =>
    type === 'member'
      ? client.DELETE('/v1/workspaces/{id}/access/members/{member_id}', {
          params: { path: { id: chosen, member_id: id } },
        })
      : client.DELETE('/v1/workspaces/{id}/access/groups/{group_id}', {
          params: { path: { id: chosen, group_id: id } },
        })

  if (pickers.error) return <ErrorNote error={pickers.error} />
  if (!pickers.data) return <Loading what="workspaces" />
  return (
    <>
      <Field label="Workspace">
        <select value={chosen} onChange={(e) => setWorkspaceId(value(e))}>
          {pickers.data.workspaces.map((w) => (
            <option value={w.id} key={w.id}>
              {w.name}
            </option>
          ))}
        </select>
      </Field>
      {manage ? (
        <Section title="Grant roles">
          <form
            onSubmit={async (event) => {
              event.preventDefault()
              const [type, id] = principal.split(':') as ['member' | 'group', string]
              if (!id || roles.length === 0) return
              if (await action.run(() => ok(put(type, id, { roles })))) {
                setRoles([])
                grants.reload()
              }
            }}
          >
            <Field label="Member or group">
              <select required value={principal} onChange={(e) => setPrincipal(value(e))}>
                <option value="">Choose</option>
                <optgroup label="Members">
                  {pickers.data.members.map((m) => (
                    <option value={`member:${m.id}`} key={m.id}>
                      {m.email}
                    </option>
                  ))}
                </optgroup>
                <optgroup label="Groups">
                  {pickers.data.groups.map((g) => (
                    <option value={`group:${g.id}`} key={g.id}>
                      {g.name}
                    </option>
                  ))}
                </optgroup>
              </select>
            </Field>
            <fieldset>
              <legend>Workspace roles</legend>
              <div class="checks">
                {WORKSPACE_ROLES.map((role) => (
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
            <button type="submit">Grant in {workspace?.name}</button>
          </form>
        </Section>
      ) : null}
      <Section title={`Grants in ${workspace?.name ?? ''}`}>
        <ErrorNote error={action.error ?? grants.error} />
        {grants.data ? (
          <Table
            testId="grants-table"
            caption={`Who holds roles in ${workspace?.name ?? ''}`}
            rows={grants.data}
            rowKey={(g) => `${g.principal.type}:${g.principal.id}`}
            columns={[
              { header: 'Principal', cell: (g) => nameOf(g.principal.type, g.principal.id) },
              { header: 'Roles', cell: (g) => g.roles.join(', ') },
              {
                header: 'Actions',
                cell: (g) =>
                  manage ? (
                    <RunButton
                      action={action}
                      request={() => ok(remove(g.principal.type, g.principal.id))}
                      then={grants.reload}
                    >
                      Remove grant of {nameOf(g.principal.type, g.principal.id)}
                    </RunButton>
                  ) : null,
              },
            ]}
          />
        ) : (
          <Loading what="grants" />
        )}
      </Section>
    </>
  )
}

/** Seat pools (purchased / assigned) and assigning seats to members. */
export function SeatsSection() {
  const { client, can } = useConsole()
  const seats = useLoad(async () => {
    const [pools, members] = await Promise.all([ok(client.GET('/v1/seats')), lists.members(client)])
    return { pools: pools.data, members }
  }, [])
  const [purchased, setPurchased] = useState<Record<string, string>>({})
  const [assign, setAssign] = useState({ member: '', product: 'chat' as Product })
  const action = useAction()
  const manage = can('manage_seats')
  if (seats.error) return <ErrorNote error={seats.error} />
  if (!seats.data) return <Loading what="seats" />
  return (
    <>
      <ErrorNote error={action.error} />
      <Section title="Seat pools">
        <Table
          caption="Seats per product"
          rows={seats.data.pools}
          rowKey={(p) => p.product}
          columns={[
            { header: 'Product', cell: (p) => p.product },
            { header: 'Assigned', numeric: true, cell: (p) => p.assigned },
            {
              header: 'Purchased',
              numeric: true,
              cell: (p) =>
                manage ? (
                  <form
                    class="inline"
                    onSubmit={async (event) => {
                      event.preventDefault()
                      const body = { purchased: Number(purchased[p.product] ?? p.purchased) }
                      const done = await action.run(() =>
                        ok(
                          client.PUT('/v1/seats/{product}', {
                            params: { path: { product: p.product }, header: ifMatch(p.version) },
                            body,
                          })
                        )
                      )
                      if (done) seats.reload()
                    }}
                  >
                    <input
                      aria-label={`Purchased ${p.product} seats`}
                      type="number"
                      min={0}
                      value={purchased[p.product] ?? String(p.purchased)}
                      onInput={(e) => setPurchased({ ...purchased, [p.product]: value(e) })}
                    />
                    <button type="submit">Set {p.product} seats</button>
                  </form>
                ) : (
                  p.purchased
                ),
            },
          ]}
        />
      </Section>
      {manage ? (
        <Section title="Assign a seat">
          <form
            class="inline"
            onSubmit={async (event) => {
              event.preventDefault()
              if (!assign.member) return
              const path = { id: assign.member, product: assign.product }
              if (
                await action.run(() =>
                  ok(client.PUT('/v1/members/{id}/seats/{product}', { params: { path } }))
                )
              )
                seats.reload()
            }}
          >
            <Field label="Member">
              <select
                required
                value={assign.member}
                onChange={(e) => setAssign({ ...assign, member: value(e) })}
              >
                <option value="">Choose a member</option>
                {seats.data.members.map((m) => (
                  <option value={m.id} key={m.id}>
                    {m.email}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Product">
              <select
                value={assign.product}
                onChange={(e) => setAssign({ ...assign, product: value(e) as Product })}
              >
                <option>chat</option>
                <option>code</option>
              </select>
            </Field>
            <button type="submit">Assign seat</button>
            <button
              type="button"
              onClick={async () => {
                if (!assign.member) return
                const path = { id: assign.member, product: assign.product }
                if (
                  await action.run(() =>
                    ok(client.DELETE('/v1/members/{id}/seats/{product}', { params: { path } }))
                  )
                )
                  seats.reload()
              }}
            >
              Release seat
            </button>
          </form>
        </Section>
      ) : null}
    </>
  )
}
