import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, email, listAll } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let api: Caller

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  api = as(h, org.adminKey)
})
afterAll(() => h.close())

let n = 0
const newGroup = (extra: Record<string, unknown> = {}) =>
  api.create('/v1/groups', { name: `Group ${++n}`, ...extra })
const newMember = () => api.create('/v1/members', { email: email(), name: `M${++n}` })
const nest = (parent: string, child: string) => api.put(`/v1/groups/${parent}/subgroups/${child}`)

describe('groups', () => {
  it('creates, gets with an ETag, lists, renames and changes the org role', async () => {
    const created = await api.post('/v1/groups', {
      name: 'Engineering',
      org_role: 'billing_manager',
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      object: 'group',
      organization_id: org.id,
      name: 'Engineering',
      org_role: 'billing_manager',
      parent_group_ids: [],
      subgroup_ids: [],
      version: 1,
    })
    expect(created.body.id).toMatch(/^grp_[0-9A-Z]{26}$/)
    const got = await api.get(`/v1/groups/${created.body.id}`)
    expect(got.body).toEqual(created.body)
    expect(got.headers.get('etag')).toBe('"1"')
    const list = await listAll<{ id: string }>(api, '/v1/groups', 1)
    expect(list.map((g) => g.id)).toContain(created.body.id)
    const renamed = await api.patch(
      `/v1/groups/${created.body.id}`,
      { name: 'Platform', org_role: null },
      { 'if-match': '"1"' }
    )
    expect(renamed.status).toBe(200)
    expect(renamed.body).toMatchObject({ name: 'Platform', org_role: null, version: 2 })
    const stale = await api.patch(
      `/v1/groups/${created.body.id}`,
      { name: 'X' },
      { 'if-match': '"1"' }
    )
    expect(stale.status).toBe(412)
    // The old name is free again; the new one is taken (any case).
    expect((await api.post('/v1/groups', { name: 'engineering' })).status).toBe(201)
    const taken = await api.post('/v1/groups', { name: 'PLATFORM' })
    expect(taken.status).toBe(409)
    expect(taken.body.error.param).toBe('name')
  })

  it('refuses renaming onto another group’s name', async () => {
    const a = await newGroup()
    const b = await newGroup()
    const res = await api.patch(`/v1/groups/${b.id}`, { name: a.name.toUpperCase() })
    expect(res.status).toBe(409)
    expect((await api.get(`/v1/groups/${b.id}`)).body.name).toBe(b.name)
    // Changing only the case of its own name is allowed.
    expect((await api.patch(`/v1/groups/${a.id}`, { name: a.name.toUpperCase() })).status).toBe(200)
  })

  it('honours Idempotency-Key on create', async () => {
    const first = await api.post('/v1/groups', { name: 'Idem' }, { 'idempotency-key': 'grp-1' })
    const again = await api.post('/v1/groups', { name: 'Idem' }, { 'idempotency-key': 'grp-1' })
    expect(first.status).toBe(201)
    expect(again.body.id).toBe(first.body.id)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
  })

  it('creates one group for concurrent requests with one name', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => api.post('/v1/groups', { name: 'Racers' }))
    )
    expect(results.filter((r) => r.status === 201)).toHaveLength(1)
    expect(results.filter((r) => r.status === 409)).toHaveLength(4)
  })

  it('rejects bad input', async () => {
    expect((await api.post('/v1/groups', { name: '' })).status).toBe(400)
    expect((await api.post('/v1/groups', { name: 'x', org_role: 'god' })).status).toBe(400)
    expect((await api.post('/v1/groups', { name: 'x', members: [] })).status).toBe(400)
    expect((await api.get('/v1/groups/grp_missing')).status).toBe(404)
    expect((await api.patch('/v1/groups/grp_missing', { name: 'y' })).status).toBe(404)
  })
})

describe('group members', () => {
  it('adds (201, then 200), lists and removes members', async () => {
    const group = await newGroup()
    const [a, b] = [await newMember(), await newMember()]
    const added = await api.put(`/v1/groups/${group.id}/members/${a.id}`)
    expect(added.status).toBe(201)
    expect(added.body).toMatchObject({
      object: 'group_membership',
      group_id: group.id,
      member_id: a.id,
    })
    expect((await api.put(`/v1/groups/${group.id}/members/${a.id}`)).status).toBe(200)
    await api.create(`/v1/groups/${group.id}/members/${b.id}`, undefined, 'PUT')
    const page = await api.get(`/v1/groups/${group.id}/members?limit=1`)
    expect(page.body.data).toHaveLength(1)
    expect(page.body.has_more).toBe(true)
    const all = await listAll<{ id: string; object: string }>(api, `/v1/groups/${group.id}/members`)
    expect(all.map((m) => m.id).sort()).toEqual([a.id, b.id].sort())
    expect(all[0]!.object).toBe('member')
    const removed = await api.delete(`/v1/groups/${group.id}/members/${a.id}`)
    expect(removed.status).toBe(200)
    expect(removed.body).toEqual({
      object: 'group_membership.deleted',
      group_id: group.id,
      member_id: a.id,
      deleted: true,
    })
    expect((await api.delete(`/v1/groups/${group.id}/members/${a.id}`)).status).toBe(404)
    const left = await listAll<{ id: string }>(api, `/v1/groups/${group.id}/members`)
    expect(left.map((m) => m.id)).toEqual([b.id])
    const audit = await api.get(`/v1/audit-events?target_id=${group.id}`)
    const types = audit.body.data.map((e: { event_type: string }) => e.event_type)
    expect(types).toEqual(expect.arrayContaining(['group.member_added', 'group.member_removed']))
    expect(types.filter((t: string) => t === 'group.member_added')).toHaveLength(2)
  })

  it('404s an unknown group or member', async () => {
    const group = await newGroup()
    const member = await newMember()
    const noMember = await api.put(`/v1/groups/${group.id}/members/mem_missing`)
    expect(noMember.status).toBe(404)
    expect(noMember.body.error.param).toBe('member_id')
    const noGroup = await api.put(`/v1/groups/grp_missing/members/${member.id}`)
    expect(noGroup.status).toBe(404)
    expect(noGroup.body.error.param).toBe('id')
    expect((await api.get('/v1/groups/grp_missing/members')).status).toBe(404)
  })
})

describe('nested groups', () => {
  it('nests and un-nests, showing both ends', async () => {
    const parent = await newGroup()
    const child = await newGroup()
    const res = await nest(parent.id, child.id)
    expect(res.status).toBe(200)
    expect(res.body.subgroup_ids).toEqual([child.id])
    expect((await api.get(`/v1/groups/${child.id}`)).body.parent_group_ids).toEqual([parent.id])
    expect((await nest(parent.id, child.id)).status).toBe(200)
    const removed = await api.delete(`/v1/groups/${parent.id}/subgroups/${child.id}`)
    expect(removed.status).toBe(200)
    expect(removed.body.subgroup_ids).toEqual([])
    expect((await api.get(`/v1/groups/${child.id}`)).body.parent_group_ids).toEqual([])
    expect((await api.delete(`/v1/groups/${parent.id}/subgroups/${child.id}`)).status).toBe(404)
  })

  it('refuses cycles of any length (409) and changes nothing', async () => {
    const [a, b, c] = [await newGroup(), await newGroup(), await newGroup()]
    expect((await nest(a.id, a.id)).status).toBe(409)
    expect((await nest(a.id, b.id)).status).toBe(200) // b ⊂ a
    const twoCycle = await nest(b.id, a.id)
    expect(twoCycle.status).toBe(409)
    expect(twoCycle.body.error).toMatchObject({ type: 'conflict', param: 'group_id' })
    expect((await nest(b.id, c.id)).status).toBe(200) // c ⊂ b ⊂ a
    expect((await nest(c.id, a.id)).status).toBe(409)
    expect((await api.get(`/v1/groups/${a.id}`)).body.parent_group_ids).toEqual([])
    // A diamond is not a cycle.
    expect((await nest(a.id, c.id)).status).toBe(200)
  })

  it('of concurrent nestings that together make a cycle, exactly one succeeds', async () => {
    const [x, y] = [await newGroup(), await newGroup()]
    const results = await Promise.all([nest(x.id, y.id), nest(y.id, x.id)])
    expect(results.map((r) => r.status).sort()).toEqual([200, 409])
  })

  it('limits nesting to 10 levels', async () => {
    const chain = []
    for (let i = 0; i < 11; i++) chain.push(await newGroup())
    for (let i = 0; i < 9; i++) expect((await nest(chain[i + 1].id, chain[i].id)).status).toBe(200)
    // chain[0] ⊂ … ⊂ chain[9]: 10 levels. One more is too deep.
    const tooDeep = await nest(chain[10].id, chain[9].id)
    expect(tooDeep.status).toBe(409)
    expect(tooDeep.body.error.message).toContain('at most 10')
  })

  it('404s unknown groups', async () => {
    const g = await newGroup()
    expect((await nest(g.id, 'grp_missing')).body.error.param).toBe('group_id')
    expect((await nest('grp_missing', g.id)).status).toBe(404)
  })
})

describe('DELETE /v1/groups/{id}', () => {
  it('removes the group with its memberships, nesting and grants', async () => {
    const workspace = await api.create('/v1/workspaces', { name: `WS ${++n}` })
    const [parent, doomed, child] = [await newGroup(), await newGroup(), await newGroup()]
    const member = await newMember()
    await nest(parent.id, doomed.id)
    await nest(doomed.id, child.id)
    await api.create(`/v1/groups/${doomed.id}/members/${member.id}`, undefined, 'PUT')
    await api.create(
      `/v1/workspaces/${workspace.id}/access/groups/${doomed.id}`,
      { roles: ['user'] },
      'PUT'
    )
    const before = await api.get(`/v1/members/${member.id}/effective-access`)
    expect(before.body.workspaces.map((w: { workspace_id: string }) => w.workspace_id)).toContain(
      workspace.id
    )

    const res = await api.delete(`/v1/groups/${doomed.id}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ object: 'group.deleted', id: doomed.id, deleted: true })
    expect((await api.get(`/v1/groups/${doomed.id}`)).status).toBe(404)
    expect((await api.delete(`/v1/groups/${doomed.id}`)).status).toBe(404)
    expect((await api.get(`/v1/groups/${parent.id}`)).body.subgroup_ids).toEqual([])
    expect((await api.get(`/v1/groups/${child.id}`)).body.parent_group_ids).toEqual([])
    expect(await listAll(api, `/v1/workspaces/${workspace.id}/access`)).toEqual([])
    const after = await api.get(`/v1/members/${member.id}/effective-access`)
    expect(after.body.groups).toEqual([])
    expect(
      after.body.workspaces.map((w: { workspace_id: string }) => w.workspace_id)
    ).not.toContain(workspace.id)
    // The name is free again.
    expect((await api.post('/v1/groups', { name: doomed.name })).status).toBe(201)
  })

  it('honours If-Match', async () => {
    const g = await newGroup()
    expect((await api.delete(`/v1/groups/${g.id}`, { 'if-match': '"7"' })).status).toBe(412)
    expect((await api.delete(`/v1/groups/${g.id}`, { 'if-match': '"1"' })).status).toBe(200)
  })
})
