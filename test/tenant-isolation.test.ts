import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/** A second organization's admin key must see 404 for everything of the first, and lists never mix. */
let h: Harness
let a: Awaited<ReturnType<typeof createOrg>>
let b: Awaited<ReturnType<typeof createOrg>>
let aWorkspace: string
let aAdminKey: string

beforeAll(async () => {
  h = await startHarness()
  a = await createOrg(h, 'Tenant A')
  b = await createOrg(h, 'Tenant B')
  aWorkspace = (
    await h.call('POST', '/v1/workspaces', { key: a.adminKey, body: { name: 'A private' } })
  ).body.id
  aAdminKey = (
    await h.call('POST', '/v1/admin-keys', {
      key: a.adminKey,
      body: { name: 'a key', org_roles: ['member'] },
    })
  ).body.id
})
afterAll(() => h.close())

describe('tenant isolation', () => {
  it("404s every route that names another organization's resource", async () => {
    const attempts = [
      ['GET', `/v1/workspaces/${aWorkspace}`, undefined],
      ['PATCH', `/v1/workspaces/${aWorkspace}`, { name: 'hijacked' }],
      ['POST', `/v1/workspaces/${aWorkspace}/archive`, undefined],
      ['POST', `/v1/workspaces/${aWorkspace}/unarchive`, undefined],
      ['GET', `/v1/workspaces/${a.defaultWorkspaceId}`, undefined],
      ['DELETE', `/v1/admin-keys/${aAdminKey}`, undefined],
      ['DELETE', `/v1/admin-keys/${a.adminKeyId}`, undefined],
    ] as const
    for (const [method, path, body] of attempts) {
      const res = await h.call(method, path, { key: b.adminKey, body })
      expect(res.status, `${method} ${path}`).toBe(404)
      expect(res.body.error.type).toBe('not_found')
    }
    // Nothing of A changed.
    const ws = await h.call('GET', `/v1/workspaces/${aWorkspace}`, { key: a.adminKey })
    expect(ws.body).toMatchObject({ name: 'A private', status: 'active', version: 1 })
    expect((await h.call('GET', '/v1/organization', { key: a.adminKey })).status).toBe(200)
  })

  it('lists only the own organization', async () => {
    const wsB = await h.call('GET', '/v1/workspaces?limit=100', { key: b.adminKey })
    expect(
      wsB.body.data.every((w: { organization_id: string }) => w.organization_id === b.id)
    ).toBe(true)
    const keysB = await h.call('GET', '/v1/admin-keys?limit=100', { key: b.adminKey })
    expect(
      keysB.body.data.every((k: { organization_id: string }) => k.organization_id === b.id)
    ).toBe(true)
    const auditB = await h.call('GET', '/v1/audit-events?limit=100', { key: b.adminKey })
    expect(auditB.body.data.length).toBeGreaterThan(0)
    expect(
      auditB.body.data.every((e: { organization_id: string }) => e.organization_id === b.id)
    ).toBe(true)
    const auditText = JSON.stringify(auditB.body)
    expect(auditText).not.toContain(a.id)
    expect(auditText).not.toContain(aWorkspace)
  })

  it("GET /v1/organization is always the key's own organization", async () => {
    const res = await h.call('GET', '/v1/organization', { key: b.adminKey })
    expect(res.body.id).toBe(b.id)
  })
})
