import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, email, listAll } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let api: Caller
let research: string

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  api = as(h, org.adminKey)
  research = (await api.create('/v1/workspaces', { name: 'Research' })).id
})
afterAll(() => h.close())

const grantsOf = async (workspaceId: string) =>
  listAll<{ principal: { type: string; id: string }; roles: string[] }>(
    api,
    `/v1/workspaces/${workspaceId}/access`
  )

describe('POST /v1/members', () => {
  it('creates an active member in the default workspace, with an ETag', async () => {
    const address = email('ada')
    const res = await api.post('/v1/members', { email: address, name: 'Ada' })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({
      object: 'member',
      organization_id: org.id,
      email: address,
      name: 'Ada',
      org_role: 'member',
      status: 'active',
      version: 1,
    })
    expect(res.body.id).toMatch(/^mem_[0-9A-Z]{26}$/)
    expect(res.headers.get('etag')).toBe('"1"')
    const grants = await grantsOf(org.defaultWorkspaceId)
    const own = grants.find((g) => g.principal.id === res.body.id)
    expect(own).toMatchObject({
      principal: { type: 'member', id: res.body.id },
      roles: ['workspace_contributor'],
    })
    const got = await api.get(`/v1/members/${res.body.id}`)
    expect(got.body).toEqual(res.body)
  })

  it('grants the listed workspaces and roles (default workspace roles may be chosen)', async () => {
    const res = await api.post('/v1/members', {
      email: email(),
      name: 'Grace',
      org_role: 'billing_manager',
      workspaces: [
        { workspace_id: research, roles: ['dev', 'user', 'dev'] },
        { workspace_id: org.defaultWorkspaceId, roles: ['user'] },
      ],
    })
    expect(res.status).toBe(201)
    expect(res.body.org_role).toBe('billing_manager')
    const inResearch = (await grantsOf(research)).find((g) => g.principal.id === res.body.id)
    expect(inResearch?.roles).toEqual(['user', 'dev'])
    const inDefault = (await grantsOf(org.defaultWorkspaceId)).find(
      (g) => g.principal.id === res.body.id
    )
    expect(inDefault?.roles).toEqual(['user'])
  })

  it('keeps emails unique per organization regardless of case', async () => {
    const address = email('Case')
    expect((await api.post('/v1/members', { email: address, name: 'One' })).status).toBe(201)
    const again = await api.post('/v1/members', { email: address.toUpperCase(), name: 'Two' })
    expect(again.status).toBe(409)
    expect(again.body.error).toMatchObject({ type: 'conflict', param: 'email' })
    const list = await api.get(`/v1/members?email=${encodeURIComponent(address.toUpperCase())}`)
    expect(list.body.data.map((m: { name: string }) => m.name)).toEqual(['One'])
  })

  it('allows the same email in another organization', async () => {
    const address = email('shared')
    await api.create('/v1/members', { email: address, name: 'Here' })
    const other = await createOrg(h, 'Other')
    const res = await as(h, other.adminKey).post('/v1/members', { email: address, name: 'There' })
    expect(res.status).toBe(201)
  })

  it('creates once for concurrent requests with one email', async () => {
    const address = email('race')
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        api.post('/v1/members', { email: address, name: `R${i}` })
      )
    )
    expect(results.filter((r) => r.status === 201)).toHaveLength(1)
    expect(results.every((r) => r.status === 201 || r.status === 409)).toBe(true)
    const list = await api.get(`/v1/members?email=${encodeURIComponent(address)}`)
    expect(list.body.data).toHaveLength(1)
  })

  it('rejects bad input and writes nothing', async () => {
    const before = (await listAll(api, '/v1/members')).length
    const cases: [unknown, number, string | null][] = [
      [{ email: 'not-an-email', name: 'X' }, 400, 'email'],
      [{ email: email(), name: '' }, 400, 'name'],
      [{ email: email(), name: 'X', org_role: 'owner' }, 400, 'org_role'],
      [{ email: email(), name: 'X', extra: 1 }, 400, null],
      [
        { email: email(), name: 'X', workspaces: [{ workspace_id: research, roles: [] }] },
        400,
        'workspaces.0.roles',
      ],
      [
        { email: email(), name: 'X', workspaces: [{ workspace_id: research, roles: ['root'] }] },
        400,
        'workspaces.0.roles.0',
      ],
      [
        {
          email: email(),
          name: 'X',
          workspaces: [
            { workspace_id: research, roles: ['user'] },
            { workspace_id: research, roles: ['dev'] },
          ],
        },
        400,
        'workspaces',
      ],
      [
        { email: email(), name: 'X', workspaces: [{ workspace_id: 'ws_nope', roles: ['user'] }] },
        404,
        'workspaces',
      ],
    ]
    for (const [body, status, param] of cases) {
      const res = await api.post('/v1/members', body)
      expect(res.status, JSON.stringify(body)).toBe(status)
      if (param) expect(res.body.error.param, JSON.stringify(body)).toBe(param)
    }
    expect((await listAll(api, '/v1/members')).length).toBe(before)
  })

  it('honours Idempotency-Key: one member, replayed response', async () => {
    const body = { email: email('idem'), name: 'Idem' }
    const first = await api.post('/v1/members', body, { 'idempotency-key': 'member-1' })
    const second = await api.post('/v1/members', body, { 'idempotency-key': 'member-1' })
    expect(first.status).toBe(201)
    expect(second.body).toEqual(first.body)
    expect(second.headers.get('idempotent-replayed')).toBe('true')
  })
})

describe('GET /v1/members', () => {
  it('paginates and filters by status and email', async () => {
    const quiet = await api.create('/v1/members', { email: email('quiet'), name: 'Quiet' })
    await api.patch(`/v1/members/${quiet.id}`, { status: 'deactivated' })
    const all = await listAll<{ id: string; status: string }>(api, '/v1/members', 2)
    expect(new Set(all.map((m) => m.id)).size).toBe(all.length)
    expect(all.length).toBeGreaterThanOrEqual(5)
    const first = await api.get('/v1/members?limit=2')
    expect(first.body).toMatchObject({ object: 'list', has_more: true })
    expect(first.body.data).toHaveLength(2)
    const deactivated = await listAll<{ id: string }>(api, '/v1/members?status=deactivated')
    expect(deactivated.map((m) => m.id)).toEqual([quiet.id])
    const active = await listAll<{ status: string }>(api, '/v1/members?status=active')
    expect(active.every((m) => m.status === 'active')).toBe(true)
    const byEmail = await api.get(
      `/v1/members?email=${encodeURIComponent(quiet.email)}&status=active`
    )
    expect(byEmail.body.data).toEqual([])
    expect((await api.get('/v1/members?email=nobody@example.com')).body.data).toEqual([])
    expect((await api.get('/v1/members?status=gone')).status).toBe(400)
  })

  it('404s an unknown member', async () => {
    const res = await api.get('/v1/members/mem_01JD4V6S9Y3T2WQ7P1J5KX8N0M')
    expect(res.status).toBe(404)
    expect(res.body.error.type).toBe('not_found')
  })
})

describe('PATCH /v1/members/{id}', () => {
  it('changes name, org role and status; a stale If-Match → 412', async () => {
    const m = await api.create('/v1/members', { email: email(), name: 'Old' })
    const res = await api.patch(
      `/v1/members/${m.id}`,
      { name: 'New', org_role: 'billing_manager' },
      { 'if-match': '"1"' }
    )
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ name: 'New', org_role: 'billing_manager', version: 2 })
    expect(res.headers.get('etag')).toBe('"2"')
    const stale = await api.patch(`/v1/members/${m.id}`, { name: 'Lost' }, { 'if-match': '"1"' })
    expect(stale.status).toBe(412)
    expect((await api.get(`/v1/members/${m.id}`)).body.name).toBe('New')
    const same = await api.patch(`/v1/members/${m.id}`, { name: 'New' })
    expect(same.body.version).toBe(2)
    expect((await api.patch(`/v1/members/${m.id}`, { email: 'x@y.z' })).status).toBe(400)
    expect((await api.patch(`/v1/members/${m.id}`, { status: 'removed' })).status).toBe(400)
  })

  it('DELETE honours If-Match', async () => {
    const m = await api.create('/v1/members', { email: email(), name: 'Versioned' })
    const stale = await api.delete(`/v1/members/${m.id}`, { 'if-match': '"9"' })
    expect(stale.status).toBe(412)
    expect((await api.get(`/v1/members/${m.id}`)).status).toBe(200)
    expect((await api.delete(`/v1/members/${m.id}`, { 'if-match': '"1"' })).status).toBe(200)
  })

  it('records member.created and member.updated in the audit log', async () => {
    const m = await api.create('/v1/members', { email: email(), name: 'Audited' })
    await api.patch(`/v1/members/${m.id}`, { name: 'Audited 2' })
    const events = await api.get(`/v1/audit-events?target_id=${m.id}`)
    const types = events.body.data.map((e: { event_type: string }) => e.event_type)
    expect(types).toEqual(
      expect.arrayContaining(['member.created', 'member.updated', 'workspace.access_granted'])
    )
    const updated = events.body.data.find(
      (e: { event_type: string }) => e.event_type === 'member.updated'
    )
    expect(updated.before.name).toBe('Audited')
    expect(updated.after.name).toBe('Audited 2')
  })
})

describe('the last organization_admin member', () => {
  it('cannot be removed, deactivated or demoted; with a second admin it can', async () => {
    const solo = await createOrg(h, 'Solo')
    const s = as(h, solo.adminKey)
    const admin = await s.create('/v1/members', {
      email: email('admin'),
      name: 'Admin',
      org_role: 'organization_admin',
    })
    for (const attempt of [
      () => s.delete(`/v1/members/${admin.id}`),
      () => s.patch(`/v1/members/${admin.id}`, { status: 'deactivated' }),
      () => s.patch(`/v1/members/${admin.id}`, { org_role: 'member' }),
    ]) {
      const res = await attempt()
      expect(res.status).toBe(409)
      expect(res.body.error.message).toContain('last active organization_admin')
    }
    expect((await s.get(`/v1/members/${admin.id}`)).body).toMatchObject({
      status: 'active',
      org_role: 'organization_admin',
      version: 1,
    })
    // Renaming is fine.
    expect((await s.patch(`/v1/members/${admin.id}`, { name: 'Boss' })).status).toBe(200)
    const second = await s.create('/v1/members', {
      email: email('admin2'),
      name: 'Second',
      org_role: 'organization_admin',
    })
    expect((await s.patch(`/v1/members/${admin.id}`, { org_role: 'member' })).status).toBe(200)
    // Now `second` is the last one.
    expect((await s.delete(`/v1/members/${second.id}`)).status).toBe(409)
    // A deactivated admin does not count; reactivating counts again.
    const third = await s.create('/v1/members', {
      email: email('admin3'),
      name: 'Third',
      org_role: 'organization_admin',
    })
    await s.patch(`/v1/members/${third.id}`, { status: 'deactivated' })
    expect((await s.delete(`/v1/members/${second.id}`)).status).toBe(409)
    await s.patch(`/v1/members/${third.id}`, { status: 'active' })
    expect((await s.delete(`/v1/members/${second.id}`)).status).toBe(200)
  })

  it('concurrent demotions of the last two admins: exactly one succeeds', async () => {
    const duo = await createOrg(h, 'Duo')
    const d = as(h, duo.adminKey)
    const admins = await Promise.all(
      ['a', 'b'].map((n) =>
        d.create('/v1/members', { email: email(n), name: n, org_role: 'organization_admin' })
      )
    )
    const results = await Promise.all([
      d.patch(`/v1/members/${admins[0].id}`, { org_role: 'member' }),
      d.delete(`/v1/members/${admins[1].id}`),
    ])
    expect(results.map((r) => r.status).sort()).toEqual([200, 409])
    const remaining = await listAll<{ org_role: string; status: string }>(
      d,
      '/v1/members?status=active'
    )
    expect(remaining.filter((m) => m.org_role === 'organization_admin')).toHaveLength(1)
  })
})
