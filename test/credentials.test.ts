import { ScanCommand } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
})
afterAll(() => h.close())

async function tableText(): Promise<string> {
  const out = await h.db.doc.send(new ScanCommand({ TableName: h.db.tableName }))
  return JSON.stringify(out.Items)
}

describe('authentication', () => {
  it('401s a missing, malformed, unknown or wrong-prefix credential', async () => {
    const cases: Record<string, string>[] = [
      {},
      { authorization: 'Basic abc' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer adm_not-a-real-key' },
      { authorization: 'Bearer op_wrong-operator-key-123456' },
      { authorization: 'Bearer something_else' },
    ]
    for (const headers of cases) {
      const res = await h.call('GET', '/v1/organization', { headers })
      expect(res.status, JSON.stringify(headers)).toBe(401)
      expect(res.body.error.type).toBe('authentication')
      expect(res.headers.get('www-authenticate')).toBe('Bearer')
    }
  })

  it('403s a valid credential of the wrong kind', async () => {
    const asAdmin = await h.call('GET', '/v1/organizations', { key: org.adminKey })
    expect(asAdmin.status).toBe(403)
    expect(asAdmin.body.error.type).toBe('permission')
    const asOperator = await h.call('GET', '/v1/workspaces', { key: h.operatorKey })
    expect(asOperator.status).toBe(403)
    const svc = await h.call('POST', '/v1/service-keys', {
      key: h.operatorKey,
      body: { name: 'chat' },
    })
    const asService = await h.call('GET', '/v1/workspaces', { key: svc.body.secret })
    expect(asService.status).toBe(403)
  })

  it('authenticates before validating the body', async () => {
    const res = await h.call('POST', '/v1/workspaces', { body: '{broken' })
    expect(res.status).toBe(401)
  })
})

describe('admin keys', () => {
  it('shows the secret once, lists it redacted, and stores only a hash', async () => {
    const created = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'ci', org_roles: ['member'] },
    })
    expect(created.status).toBe(201)
    const secret: string = created.body.secret
    expect(secret).toMatch(/^adm_[A-Za-z0-9_-]{40,}$/)
    expect(created.body.redacted_value).toBe(`adm_...${secret.slice(-4)}`)
    expect(created.body.created_by).toEqual({ type: 'admin_key', id: org.adminKeyId })

    const list = await h.call('GET', '/v1/admin-keys', { key: org.adminKey })
    const listed = list.body.data.find((k: { id: string }) => k.id === created.body.id)
    expect(listed).toMatchObject({ name: 'ci', org_roles: ['member'], status: 'active' })
    expect(JSON.stringify(list.body)).not.toContain(secret)
    expect(await tableText()).not.toContain(secret)

    const works = await h.call('GET', '/v1/organization', { key: secret })
    expect(works.status).toBe(200)
  })

  it('stops a revoked key at once and reports the revocation', async () => {
    const created = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'temp', org_roles: ['organization_admin'] },
    })
    const secret = created.body.secret
    expect((await h.call('GET', '/v1/organization', { key: secret })).status).toBe(200)
    const revoked = await h.call('DELETE', `/v1/admin-keys/${created.body.id}`, {
      key: org.adminKey,
    })
    expect(revoked.status).toBe(200)
    expect(revoked.body).toMatchObject({ id: created.body.id, status: 'revoked' })
    expect(revoked.body.revoked_at).toEqual(expect.any(String))
    expect((await h.call('GET', '/v1/organization', { key: secret })).status).toBe(401)
    const again = await h.call('DELETE', `/v1/admin-keys/${created.body.id}`, { key: org.adminKey })
    expect(again.status).toBe(200)
    expect(again.body.revoked_at).toBe(revoked.body.revoked_at)
    const missing = await h.call('DELETE', '/v1/admin-keys/adk_01JD000000000000000000000', {
      key: org.adminKey,
    })
    expect(missing.status).toBe(404)
  })

  it('expires a key at its expires_at', async () => {
    const expiresAt = new Date(h.clock.now().getTime() + 60_000).toISOString()
    const created = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'short', org_roles: ['member'], expires_at: expiresAt },
    })
    expect(created.status).toBe(201)
    expect(created.body.expires_at).toBe(expiresAt)
    expect((await h.call('GET', '/v1/organization', { key: created.body.secret })).status).toBe(200)
    h.clock.advance(61_000)
    expect((await h.call('GET', '/v1/organization', { key: created.body.secret })).status).toBe(401)
  })

  it('refuses a past expiry, unknown roles and an empty role list', async () => {
    const past = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'x', org_roles: ['member'], expires_at: '2020-01-01T00:00:00Z' },
    })
    expect(past.status).toBe(400)
    expect(past.body.error.param).toBe('expires_at')
    const badRole = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'x', org_roles: ['owner'] },
    })
    expect(badRole.status).toBe(400)
    expect(badRole.body.error.param).toBe('org_roles.0')
    const none = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'x', org_roles: [] },
    })
    expect(none.status).toBe(400)
  })
})

describe('service keys (operator)', () => {
  it('creates, lists redacted, and revokes', async () => {
    const created = await h.call('POST', '/v1/service-keys', {
      key: h.operatorKey,
      body: { name: 'studio' },
    })
    expect(created.status).toBe(201)
    expect(created.body.secret).toMatch(/^svc_/)
    const list = await h.call('GET', '/v1/service-keys', { key: h.operatorKey })
    expect(list.body.data.map((k: { id: string }) => k.id)).toContain(created.body.id)
    expect(JSON.stringify(list.body)).not.toContain(created.body.secret)
    expect(await tableText()).not.toContain(created.body.secret)
    const revoked = await h.call('DELETE', `/v1/service-keys/${created.body.id}`, {
      key: h.operatorKey,
    })
    expect(revoked.body.status).toBe('revoked')
    // A revoked service key is an unknown credential everywhere.
    const after = await h.call('GET', '/v1/workspaces', { key: created.body.secret })
    expect(after.status).toBe(401)
  })

  it('is operator-only', async () => {
    const res = await h.call('POST', '/v1/service-keys', { key: org.adminKey, body: { name: 'x' } })
    expect(res.status).toBe(403)
  })
})
