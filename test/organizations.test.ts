import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

let h: Harness

beforeAll(async () => {
  h = await startHarness()
})
afterAll(() => h.close())

describe('operator: organizations', () => {
  it('creates an organization with a default workspace and an organization_admin key', async () => {
    const res = await h.call('POST', '/v1/organizations', {
      key: h.operatorKey,
      body: { name: 'Acme', currency: 'eur' },
    })
    expect(res.status).toBe(201)
    const { organization, default_workspace, admin_key } = res.body
    expect(organization).toMatchObject({
      object: 'organization',
      name: 'Acme',
      currency: 'EUR',
      default_workspace_id: default_workspace.id,
      settings: { api_key_max_validity_days: null },
      version: 1,
    })
    expect(organization.id).toMatch(/^org_[0-9A-Z]{26}$/)
    expect(default_workspace).toMatchObject({
      is_default: true,
      status: 'active',
      organization_id: organization.id,
    })
    expect(admin_key).toMatchObject({ org_roles: ['organization_admin'], status: 'active' })
    const own = await h.call('GET', '/v1/organization', { key: admin_key.secret })
    expect(own.body.id).toBe(organization.id)
  })

  it('lists and gets organizations; unknown id → 404', async () => {
    const a = await createOrg(h, 'Listed A')
    const b = await createOrg(h, 'Listed B')
    const list = await h.call('GET', '/v1/organizations?limit=100', { key: h.operatorKey })
    const ids = list.body.data.map((o: { id: string }) => o.id)
    expect(ids).toEqual(expect.arrayContaining([a.id, b.id]))
    const got = await h.call('GET', `/v1/organizations/${a.id}`, { key: h.operatorKey })
    expect(got.body.name).toBe('Listed A')
    const missing = await h.call('GET', '/v1/organizations/org_01JD0000000000000000000000', {
      key: h.operatorKey,
    })
    expect(missing.status).toBe(404)
    expect(missing.body.error.type).toBe('not_found')
  })

  it('validates the name and currency', async () => {
    for (const body of [{}, { name: '' }, { name: '   ' }, { name: 'x', currency: 'euro' }]) {
      const res = await h.call('POST', '/v1/organizations', { key: h.operatorKey, body })
      expect(res.status, JSON.stringify(body)).toBe(400)
    }
  })
})

describe('admin: the own organization', () => {
  it('returns an ETag and applies a PATCH of name and settings', async () => {
    const org = await createOrg(h, 'Patchable')
    const got = await h.call('GET', '/v1/organization', { key: org.adminKey })
    expect(got.headers.get('etag')).toBe('"1"')
    const patched = await h.call('PATCH', '/v1/organization', {
      key: org.adminKey,
      headers: { 'if-match': '"1"' },
      body: { name: 'Patched', settings: { api_key_max_validity_days: 90 } },
    })
    expect(patched.status).toBe(200)
    expect(patched.body).toMatchObject({
      name: 'Patched',
      settings: { api_key_max_validity_days: 90 },
      version: 2,
    })
    expect(patched.headers.get('etag')).toBe('"2"')
    // A stale ETag is refused and changes nothing.
    const stale = await h.call('PATCH', '/v1/organization', {
      key: org.adminKey,
      headers: { 'if-match': '"1"' },
      body: { name: 'Lost update' },
    })
    expect(stale.status).toBe(412)
    expect(stale.body.error.type).toBe('precondition_failed')
    const after = await h.call('GET', '/v1/organization', { key: org.adminKey })
    expect(after.body.name).toBe('Patched')
    // Clearing the setting with null.
    const cleared = await h.call('PATCH', '/v1/organization', {
      key: org.adminKey,
      headers: { 'if-match': 'W/"2"' },
      body: { settings: { api_key_max_validity_days: null } },
    })
    expect(cleared.body.settings.api_key_max_validity_days).toBeNull()
  })

  it('refuses a malformed If-Match and invalid settings', async () => {
    const org = await createOrg(h, 'Strict')
    const bad = await h.call('PATCH', '/v1/organization', {
      key: org.adminKey,
      headers: { 'if-match': 'version-one' },
      body: { name: 'x' },
    })
    expect(bad.status).toBe(400)
    expect(bad.body.error.param).toBe('If-Match')
    const invalid = await h.call('PATCH', '/v1/organization', {
      key: org.adminKey,
      body: { settings: { api_key_max_validity_days: 0 } },
    })
    expect(invalid.status).toBe(400)
    expect(invalid.body.error.param).toBe('settings.api_key_max_validity_days')
  })

  it('serialises concurrent PATCHes without losing either change', async () => {
    const org = await createOrg(h, 'Concurrent')
    const [a, b] = await Promise.all([
      h.call('PATCH', '/v1/organization', { key: org.adminKey, body: { name: 'Renamed' } }),
      h.call('PATCH', '/v1/organization', {
        key: org.adminKey,
        body: { settings: { api_key_max_validity_days: 30 } },
      }),
    ])
    expect([a.status, b.status]).toEqual([200, 200])
    const after = await h.call('GET', '/v1/organization', { key: org.adminKey })
    expect(after.body).toMatchObject({
      name: 'Renamed',
      settings: { api_key_max_validity_days: 30 },
      version: 3,
    })
  })
})
