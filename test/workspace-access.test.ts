import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, email, listAll } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let api: Caller
let ws: string

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  api = as(h, org.adminKey)
  ws = (await api.create('/v1/workspaces', { name: 'Studio' })).id
})
afterAll(() => h.close())

let n = 0
const newMember = () => api.create('/v1/members', { email: email(), name: `M${++n}` })
const newGroup = (extra: Record<string, unknown> = {}) =>
  api.create('/v1/groups', { name: `G${++n}`, ...extra })
const grantPath = (workspace: string, type: 'members' | 'groups', id: string) =>
  `/v1/workspaces/${workspace}/access/${type}/${id}`

describe('workspace grants', () => {
  it('grants (201), changes (200, If-Match), lists and removes a member grant', async () => {
    const m = await newMember()
    const created = await api.put(grantPath(ws, 'members', m.id), { roles: ['dev', 'user'] })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      object: 'workspace_grant',
      workspace_id: ws,
      principal: { type: 'member', id: m.id },
      roles: ['user', 'dev'],
      version: 1,
    })
    expect(created.headers.get('etag')).toBe('"1"')
    const same = await api.put(grantPath(ws, 'members', m.id), { roles: ['user', 'dev'] })
    expect(same.status).toBe(200)
    expect(same.body.version).toBe(1)
    const changed = await api.put(
      grantPath(ws, 'members', m.id),
      { roles: ['billing'] },
      { 'if-match': '"1"' }
    )
    expect(changed.status).toBe(200)
    expect(changed.body).toMatchObject({ roles: ['billing'], version: 2 })
    const stale = await api.put(
      grantPath(ws, 'members', m.id),
      { roles: ['dev'] },
      { 'if-match': '"1"' }
    )
    expect(stale.status).toBe(412)
    const listed = await listAll<{ principal: { id: string }; roles: string[] }>(
      api,
      `/v1/workspaces/${ws}/access`
    )
    expect(listed.find((g) => g.principal.id === m.id)?.roles).toEqual(['billing'])
    const removed = await api.delete(grantPath(ws, 'members', m.id))
    expect(removed.status).toBe(200)
    expect(removed.body).toEqual({
      object: 'workspace_grant.deleted',
      workspace_id: ws,
      principal: { type: 'member', id: m.id },
      deleted: true,
    })
    expect((await api.delete(grantPath(ws, 'members', m.id))).status).toBe(404)
    const events = await api.get(`/v1/audit-events?target_id=${m.id}`)
    expect(events.body.data.map((e: { event_type: string }) => e.event_type)).toEqual(
      expect.arrayContaining([
        'workspace.access_granted',
        'workspace.access_updated',
        'workspace.access_removed',
      ])
    )
  })

  it('keeps every member in the default workspace', async () => {
    const m = await newMember()
    const res = await api.delete(grantPath(org.defaultWorkspaceId, 'members', m.id))
    expect(res.status).toBe(409)
    const changed = await api.put(grantPath(org.defaultWorkspaceId, 'members', m.id), {
      roles: ['user'],
    })
    expect(changed.status).toBe(200)
  })

  it('grants to groups and paginates the listing', async () => {
    const workspace = (await api.create('/v1/workspaces', { name: 'Paged' })).id
    const groups = [await newGroup(), await newGroup(), await newGroup()]
    for (const g of groups) {
      expect(
        (await api.put(grantPath(workspace, 'groups', g.id), { roles: ['user'] })).status
      ).toBe(201)
    }
    const first = await api.get(`/v1/workspaces/${workspace}/access?limit=2`)
    expect(first.body.data).toHaveLength(2)
    expect(first.body.has_more).toBe(true)
    const all = await listAll<{ principal: { type: string; id: string } }>(
      api,
      `/v1/workspaces/${workspace}/access`,
      2
    )
    expect(all.map((g) => g.principal.id).sort()).toEqual(groups.map((g) => g.id).sort())
    expect(all.every((g) => g.principal.type === 'group')).toBe(true)
    expect((await api.delete(grantPath(workspace, 'groups', groups[0].id))).status).toBe(200)
  })

  it('validates roles and 404s unknown workspaces, members and groups', async () => {
    const m = await newMember()
    const cases: [string, unknown, number, string | null][] = [
      [grantPath(ws, 'members', m.id), { roles: [] }, 400, 'roles'],
      [grantPath(ws, 'members', m.id), { roles: ['admin'] }, 400, 'roles.0'],
      [grantPath(ws, 'members', m.id), {}, 400, 'roles'],
      [grantPath('ws_missing', 'members', m.id), { roles: ['user'] }, 404, 'id'],
      [grantPath(ws, 'members', 'mem_missing'), { roles: ['user'] }, 404, 'member_id'],
      [grantPath(ws, 'groups', 'grp_missing'), { roles: ['user'] }, 404, 'group_id'],
    ]
    for (const [path, body, status, param] of cases) {
      const res = await api.put(path, body)
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(status)
      expect(res.body.error.param).toBe(param)
    }
    expect((await api.get('/v1/workspaces/ws_missing/access')).status).toBe(404)
    expect((await api.delete(grantPath(ws, 'groups', 'grp_missing'))).status).toBe(404)
  })
})

describe('GET /v1/members/{id}/effective-access', () => {
  it('is the union of own and (nested) group grants, each with its source', async () => {
    const other = (await api.create('/v1/workspaces', { name: 'Other' })).id
    const m = await newMember()
    // m ∈ team ⊂ department ⊂ company; company carries billing_manager.
    const team = await newGroup()
    const department = await newGroup()
    const company = await newGroup({ org_role: 'billing_manager' })
    await api.create(`/v1/groups/${team.id}/members/${m.id}`, undefined, 'PUT')
    await api.create(`/v1/groups/${department.id}/subgroups/${team.id}`, undefined, 'PUT')
    await api.create(`/v1/groups/${company.id}/subgroups/${department.id}`, undefined, 'PUT')
    await api.create(grantPath(ws, 'members', m.id), { roles: ['user'] }, 'PUT')
    await api.create(grantPath(ws, 'groups', team.id), { roles: ['user', 'dev'] }, 'PUT')
    await api.create(grantPath(other, 'groups', company.id), { roles: ['billing'] }, 'PUT')

    const res = await api.get(`/v1/members/${m.id}/effective-access`)
    expect(res.status).toBe(200)
    const access = res.body
    expect(access).toMatchObject({
      object: 'effective_access',
      member_id: m.id,
      member_status: 'active',
    })
    expect(access.org_roles).toEqual([
      {
        role: 'billing_manager',
        sources: [
          {
            type: 'group',
            group_id: company.id,
            group_name: company.name,
            path: [team.id, department.id, company.id],
          },
        ],
      },
      { role: 'member', sources: [{ type: 'direct' }] },
    ])
    expect(access.groups.map((g: { id: string; path: string[] }) => [g.id, g.path])).toEqual([
      [team.id, [team.id]],
      [department.id, [team.id, department.id]],
      [company.id, [team.id, department.id, company.id]],
    ])
    const byWs = Object.fromEntries(
      access.workspaces.map((w: { workspace_id: string }) => [w.workspace_id, w])
    )
    expect(byWs[org.defaultWorkspaceId]).toMatchObject({
      is_default: true,
      roles: [{ role: 'workspace_contributor', sources: [{ type: 'direct' }] }],
    })
    expect(byWs[ws].roles).toEqual([
      {
        role: 'user',
        sources: [
          { type: 'direct' },
          { type: 'group', group_id: team.id, group_name: team.name, path: [team.id] },
        ],
      },
      {
        role: 'dev',
        sources: [{ type: 'group', group_id: team.id, group_name: team.name, path: [team.id] }],
      },
    ])
    expect(byWs[other]).toMatchObject({
      workspace_name: 'Other',
      roles: [
        {
          role: 'billing',
          sources: [
            {
              type: 'group',
              group_id: company.id,
              group_name: company.name,
              path: [team.id, department.id, company.id],
            },
          ],
        },
      ],
    })

    // Un-nesting the department takes the company's roles away.
    await api.delete(`/v1/groups/${company.id}/subgroups/${department.id}`)
    const after = (await api.get(`/v1/members/${m.id}/effective-access`)).body
    expect(after.org_roles.map((r: { role: string }) => r.role)).toEqual(['member'])
    expect(after.workspaces.map((w: { workspace_id: string }) => w.workspace_id)).not.toContain(
      other
    )
  })

  it('lists a role reached along two paths with both sources (shortest path each)', async () => {
    const m = await newMember()
    const [a, b, top] = [await newGroup(), await newGroup(), await newGroup()]
    await api.create(`/v1/groups/${a.id}/members/${m.id}`, undefined, 'PUT')
    await api.create(`/v1/groups/${b.id}/members/${m.id}`, undefined, 'PUT')
    await api.create(`/v1/groups/${top.id}/subgroups/${a.id}`, undefined, 'PUT')
    await api.create(`/v1/groups/${top.id}/subgroups/${b.id}`, undefined, 'PUT')
    await api.create(grantPath(ws, 'groups', a.id), { roles: ['code_user'] }, 'PUT')
    await api.create(grantPath(ws, 'groups', top.id), { roles: ['code_user'] }, 'PUT')
    const access = (await api.get(`/v1/members/${m.id}/effective-access`)).body
    const inWs = access.workspaces.find((w: { workspace_id: string }) => w.workspace_id === ws)
    expect(inWs.roles).toEqual([
      {
        role: 'code_user',
        sources: [
          { type: 'group', group_id: a.id, group_name: a.name, path: [a.id] },
          {
            type: 'group',
            group_id: top.id,
            group_name: top.name,
            path: [[a.id, b.id].sort()[0], top.id],
          },
        ],
      },
    ])
    expect(access.groups).toHaveLength(3)
  })

  it('404s an unknown member', async () => {
    expect((await api.get('/v1/members/mem_missing/effective-access')).status).toBe(404)
  })
})
