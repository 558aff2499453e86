import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
})
afterAll(() => h.close())

const create = (name: string, description?: string) =>
  h.call('POST', '/v1/workspaces', {
    key: org.adminKey,
    body: { name, ...(description ? { description } : {}) },
  })

describe('workspaces', () => {
  it('creates, gets with an ETag, and lists', async () => {
    const created = await create('Research', 'ML research')
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      object: 'workspace',
      name: 'Research',
      description: 'ML research',
      is_default: false,
      status: 'active',
      organization_id: org.id,
      version: 1,
    })
    expect(created.body.id).toMatch(/^ws_[0-9A-Z]{26}$/)
    const got = await h.call('GET', `/v1/workspaces/${created.body.id}`, { key: org.adminKey })
    expect(got.body).toEqual(created.body)
    expect(got.headers.get('etag')).toBe('"1"')
    const list = await h.call('GET', '/v1/workspaces', { key: org.adminKey })
    expect(list.body.data.map((w: { id: string }) => w.id)).toEqual(
      expect.arrayContaining([org.defaultWorkspaceId, created.body.id])
    )
  })

  it('patches with If-Match and refuses a stale one', async () => {
    const ws = (await create('Ops')).body
    const patched = await h.call('PATCH', `/v1/workspaces/${ws.id}`, {
      key: org.adminKey,
      headers: { 'if-match': '"1"' },
      body: { name: 'Operations', description: null },
    })
    expect(patched.status).toBe(200)
    expect(patched.body).toMatchObject({ name: 'Operations', description: null, version: 2 })
    const stale = await h.call('PATCH', `/v1/workspaces/${ws.id}`, {
      key: org.adminKey,
      headers: { 'if-match': '"1"' },
      body: { name: 'Lost' },
    })
    expect(stale.status).toBe(412)
    const unchanged = await h.call('GET', `/v1/workspaces/${ws.id}`, { key: org.adminKey })
    expect(unchanged.body.name).toBe('Operations')
  })

  it('a PATCH that changes nothing keeps the version', async () => {
    const ws = (await create('Same')).body
    const res = await h.call('PATCH', `/v1/workspaces/${ws.id}`, {
      key: org.adminKey,
      body: { name: 'Same' },
    })
    expect(res.body.version).toBe(1)
  })

  it('archives and unarchives; both are idempotent; status filter works', async () => {
    const ws = (await create('Temp')).body
    const archived = await h.call('POST', `/v1/workspaces/${ws.id}/archive`, { key: org.adminKey })
    expect(archived.status).toBe(200)
    expect(archived.body).toMatchObject({ status: 'archived', version: 2 })
    expect(archived.body.archived_at).toEqual(expect.any(String))
    const again = await h.call('POST', `/v1/workspaces/${ws.id}/archive`, { key: org.adminKey })
    expect(again.body.version).toBe(2)
    const archivedList = await h.call('GET', '/v1/workspaces?status=archived', {
      key: org.adminKey,
    })
    expect(archivedList.body.data.map((w: { id: string }) => w.id)).toEqual([ws.id])
    const activeList = await h.call('GET', '/v1/workspaces?status=active&limit=100', {
      key: org.adminKey,
    })
    expect(activeList.body.data.map((w: { id: string }) => w.id)).not.toContain(ws.id)
    const restored = await h.call('POST', `/v1/workspaces/${ws.id}/unarchive`, {
      key: org.adminKey,
    })
    expect(restored.body).toMatchObject({ status: 'active', archived_at: null, version: 3 })
  })

  it('refuses to archive the default workspace', async () => {
    const res = await h.call('POST', `/v1/workspaces/${org.defaultWorkspaceId}/archive`, {
      key: org.adminKey,
    })
    expect(res.status).toBe(409)
    expect(res.body.error.type).toBe('conflict')
    const ws = await h.call('GET', `/v1/workspaces/${org.defaultWorkspaceId}`, {
      key: org.adminKey,
    })
    expect(ws.body.status).toBe('active')
  })

  it('404s unknown workspaces on every route', async () => {
    const id = 'ws_01JD0000000000000000000000'
    for (const [method, path, body] of [
      ['GET', `/v1/workspaces/${id}`, undefined],
      ['PATCH', `/v1/workspaces/${id}`, { name: 'x' }],
      ['POST', `/v1/workspaces/${id}/archive`, undefined],
      ['POST', `/v1/workspaces/${id}/unarchive`, undefined],
    ] as const) {
      const res = await h.call(method, path, { key: org.adminKey, body })
      expect(res.status, `${method} ${path}`).toBe(404)
      expect(res.body.error.type).toBe('not_found')
    }
  })

  it('validates names and descriptions', async () => {
    for (const body of [
      {},
      { name: '' },
      { name: 'x'.repeat(201) },
      { name: 'ok', description: 5 },
    ]) {
      const res = await h.call('POST', '/v1/workspaces', { key: org.adminKey, body })
      expect(res.status, JSON.stringify(body)).toBe(400)
    }
  })
})
