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
import { lists, ORG_ROLES } from './shared'

type Group = Schemas['Group']
type OrgRole = Schemas['OrgRole']

function GroupDetail(props: { group: Group; groups: Group[]; onChanged: () => void }) {
  const { client, can } = useConsole()
  const id = props.group.id
  const members = useLoad(async () => {
    const [inGroup, everyone] = await Promise.all([
      all((after) =>
        ok(
          client.GET('/v1/groups/{id}/members', {
            params: { path: { id }, query: { limit: 100, after } },
          })
        )
      ),
      lists.members(client),
    ])
    return { inGroup, everyone }
  }, [id])
  const [memberId, setMemberId] = useState('')
  const [subgroupId, setSubgroupId] = useState('')
  const action = useAction()
  const manage = can('manage_groups')
  const names = new Map(props.groups.map((g) => [g.id, g.name]))
  const done = () => {
    members.reload()
    props.onChanged()
  }
  return (
    <div class="card" data-testid="group-detail">
      <h3>Group {props.group.name}</h3>
      <ErrorNote error={action.error ?? members.error} />
      <p>
        Subgroups:{' '}
        {props.group.subgroup_ids.length === 0
          ? 'none'
          : props.group.subgroup_ids.map((sub) => (
              <span class="chip" key={sub}>
                {names.get(sub) ?? sub}
                {manage ? (
                  <RunButton
                    action={action}
                    request={() =>
                      ok(
                        client.DELETE('/v1/groups/{id}/subgroups/{group_id}', {
                          params: { path: { id, group_id: sub } },
                        })
                      )
                    }
                    then={done}
                    label={`Remove subgroup ${names.get(sub) ?? sub}`}
                  >
                    ×
                  </RunButton>
                ) : null}
              </span>
            ))}
      </p>
      {manage ? (
        <form
          class="inline"
          onSubmit={async (event) => {
            event.preventDefault()
            if (!subgroupId) return
            const path = { id, group_id: subgroupId }
            if (
              await action.run(() =>
                ok(client.PUT('/v1/groups/{id}/subgroups/{group_id}', { params: { path } }))
              )
            )
              done()
          }}
        >
          <Field label="Nest a group inside">
            <select value={subgroupId} onChange={(e) => setSubgroupId(value(e))}>
              <option value="">Choose a group</option>
              {props.groups
                .filter((g) => g.id !== id)
                .map((g) => (
                  <option value={g.id} key={g.id}>
                    {g.name}
                  </option>
                ))}
            </select>
          </Field>
          <button type="submit">Add subgroup</button>
        </form>
      ) : null}
      {members.data ? (
        <>
          <Table
            caption={`Direct members of ${props.group.name}`}
            rows={members.data.inGroup}
            rowKey={(m) => m.id}
            columns={[
              { header: 'Email', cell: (m) => m.email },
              {
                header: 'Actions',
                cell: (m) =>
                  manage ? (
                    <RunButton
                      action={action}
                      request={() =>
                        ok(
                          client.DELETE('/v1/groups/{id}/members/{member_id}', {
                            params: { path: { id, member_id: m.id } },
                          })
                        )
                      }
                      then={done}
                    >
                      Remove {m.email} from {props.group.name}
                    </RunButton>
                  ) : null,
              },
            ]}
          />
          {manage ? (
            <form
              class="inline"
              onSubmit={async (event) => {
                event.preventDefault()
                if (!memberId) return
                const path = { id, member_id: memberId }
                if (
                  await action.run(() =>
                    ok(client.PUT('/v1/groups/{id}/members/{member_id}', { params: { path } }))
                  )
                )
                  done()
              }}
            >
              <Field label="Add a member to the group">
                <select value={memberId} onChange={(e) => setMemberId(value(e))}>
                  <option value="">Choose a member</option>
                  {members.data.everyone.map((m) => (
                    <option value={m.id} key={m.id}>
                      {m.email}
                    </option>
                  ))}
                </select>
              </Field>
              <button type="submit">Add to group</button>
            </form>
          ) : null}
        </>
      ) : (
        <Loading what="group members" />
      )}
    </div>
  )
}

export function GroupsSection() {
  const { client, can } = useConsole()
  const groups = useLoad(() => lists.groups(client), [])
  const [name, setName] = useState('')
  const [role, setRole] = useState<OrgRole | ''>('')
  const [open, setOpen] = useState<string | null>(null)
  const action = useAction()
  const manage = can('manage_groups')
  const selected = groups.data?.find((g) => g.id === open)
  return (
    <>
      {manage ? (
        <Section title="Create a group">
          <form
            class="inline"
            onSubmit={async (event) => {
              event.preventDefault()
              const body = role ? { name, org_role: role } : { name }
              if (await action.run(() => ok(client.POST('/v1/groups', { body })))) {
                setName('')
                groups.reload()
              }
            }}
          >
            <Field label="Group name">
              <input required value={name} onInput={(e) => setName(value(e))} />
            </Field>
            <Field label="Organization role of its members">
              <select value={role} onChange={(e) => setRole(value(e) as OrgRole | '')}>
                <option value="">none</option>
                {ORG_ROLES.map((r) => (
                  <option key={r}>{r}</option>
                ))}
              </select>
            </Field>
            <button type="submit">Create group</button>
          </form>
        </Section>
      ) : null}
      <Section title="Groups">
        <ErrorNote error={action.error ?? groups.error} />
        {groups.data ? (
          <Table
            caption="Groups of the organization"
            rows={groups.data}
            rowKey={(g) => g.id}
            columns={[
              { header: 'Name', cell: (g) => g.name },
              { header: 'Org role', cell: (g) => g.org_role ?? '—' },
              { header: 'Subgroups', numeric: true, cell: (g) => g.subgroup_ids.length },
              { header: 'SCIM', cell: (g) => (g.scim_managed ? 'yes' : 'no') },
              {
                header: 'Actions',
                cell: (g) => (
                  <div class="row">
                    <button type="button" onClick={() => setOpen(g.id)}>
                      Open {g.name}
                    </button>
                    {manage ? (
                      <RunButton
                        action={action}
                        request={() =>
                          ok(client.DELETE('/v1/groups/{id}', { params: { path: { id: g.id } } }))
                        }
                        then={groups.reload}
                      >
                        Delete {g.name}
                      </RunButton>
                    ) : null}
                  </div>
                ),
              },
            ]}
          />
        ) : (
          <Loading what="groups" />
        )}
        {selected && groups.data ? (
          <GroupDetail group={selected} groups={groups.data} onChanged={groups.reload} />
        ) : null}
      </Section>
    </>
  )
}
