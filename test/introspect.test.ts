import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Db } from '../functions/store/db.js'
import { as, type Caller, email } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey } from './helpers/usage.js'

/** POST /v1/api-keys/introspect, and the role catalogue's workspace roles. */

/** Counts UpdateItem calls on API key items (what recording a use costs). */
class CountingDb extends Db {
  keyUpdates = 0
  override update(...args: Parameters<Db['update']>) {
    if (args[0].SK.startsWith('KEY#')) this.keyUpdates++
    return super.update(...args)
  }
}

let h: Harness
let db: CountingDb
let api: Caller
let svc: string
let ws: string
let org: Awaited<ReturnType<typeof createOrg>>

beforeAll(async () => {
  h = await startHarness({
    makeDb: (doc, table) => {
      db = new CountingDb(doc, table)
      return db
    },
  })
  org = await createOrg(h)
  api = as(h, org.adminKey)
  svc = await createServiceKey(h)
  ws = (await api.create('/v1/workspaces', { name: 'Product' })).id
})
afterAll(() => h.close())

const introspect = (secret: string, key = svc) =>
  h.call('POST', '/v1/api-keys/introspect', { key, body: { secret } })

describe('POST /v1/api-keys/introspect', () => {
  it('describes an active key', async () => {
    const member = (await api.create('/v1/members', { email: email(), name: 'M' })).id
    const key = await api.create('/v1/api-keys', { name: 'k', workspace_id: ws, member_id: member })
    const res = await introspect(key.secret)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      active: true,
      id: key.id,
      organization_id: org.id,
      workspace_id: ws,
      member_id: member,
      expires_at: null,
    })
  })

  it('is inactive for unknown, malformed, revoked, rotated-away and expired secrets', async () => {
    expect((await introspect('sk_unknown_secret_value')).body).toEqual({ active: false })
    expect((await introspect('not-a-key')).body).toEqual({ active: false })
    expect((await introspect(org.adminKey)).body).toEqual({ active: false })
    const revoked = await api.create('/v1/api-keys', { name: 'r', workspace_id: ws })
    await api.delete(`/v1/api-keys/${revoked.id}`)
    expect((await introspect(revoked.secret)).body).toEqual({ active: false })
    const rotated = await api.create('/v1/api-keys', { name: 'o', workspace_id: ws })
    const fresh = await api.create(`/v1/api-keys/${rotated.id}/rotate`)
    expect((await introspect(rotated.secret)).body).toEqual({ active: false })
    expect((await introspect(fresh.secret)).body.active).toBe(true)
    const expiresAt = new Date(h.clock.now().getTime() + 60_000).toISOString()
    const expiring = await api.create('/v1/api-keys', {
      name: 'e',
      workspace_id: ws,
      expires_at: expiresAt,
    })
    expect((await introspect(expiring.secret)).body).toMatchObject({
      active: true,
      expires_at: expiresAt,
    })
    h.clock.advance(60_000)
    expect((await introspect(expiring.secret)).body).toEqual({ active: false })
  })

  it('records last_used_at to the minute, without a write per call', async () => {
    const key = await api.create('/v1/api-keys', { name: 'hot', workspace_id: ws })
    const usedAt = async () => (await api.get(`/v1/api-keys/${key.id}`)).body.last_used_at
    expect(await usedAt()).toBeNull()
    db.keyUpdates = 0
    const first = h.clock.now().toISOString()
    await introspect(key.secret)
    expect(await usedAt()).toBe(first)
    for (let i = 0; i < 20; i++) {
      h.clock.advance(1000)
      await introspect(key.secret)
    }
    expect(db.keyUpdates).toBe(1)
    expect(await usedAt()).toBe(first)
    h.clock.advance(40_000)
    const later = h.clock.now().toISOString()
    await introspect(key.secret)
    expect(db.keyUpdates).toBe(2)
    expect(await usedAt()).toBe(later)
  })

  it('is for service keys only', async () => {
    const key = await api.create('/v1/api-keys', { name: 'x', workspace_id: ws })
    expect((await introspect(key.secret, org.adminKey)).status).toBe(403)
    expect((await introspect(key.secret, key.secret)).status).toBe(403)
    expect((await introspect(key.secret, h.operatorKey)).status).toBe(403)
    const malformed = await h.call('POST', '/v1/api-keys/introspect', { key: svc, body: {} })
    expect(malformed.status).toBe(400)
  })
})

describe('GET /v1/roles', () => {
  it('lists the workspace roles with the product actions the policies allow them', async () => {
    const res = await api.get('/v1/roles')
    const byName = Object.fromEntries(
      (res.body.data as { name: string; scope: string; actions: string[] }[]).map((r) => [
        r.name,
        r,
      ])
    )
    expect(byName.dev).toMatchObject({
      scope: 'workspace',
      actions: ['use_studio', 'invoke_model', 'manage_api_keys'],
    })
    expect(byName.workspace_contributor!.actions).toEqual([
      'use_chat',
      'use_studio',
      'use_code',
      'invoke_model',
      'manage_api_keys',
    ])
    expect(byName.user!.actions).toEqual(['use_chat'])
    expect(byName.code_user!.actions).toEqual(['use_code'])
    expect(byName.billing!.actions).toEqual(['read_usage'])
    expect(byName.observability_viewer!.actions).toEqual(['view_observability'])
    expect(byName.workspace_admin!.actions).toHaveLength(8)
    expect(byName.organization_admin!.actions).toEqual(
      expect.arrayContaining(['manage_members', 'administer_workspace', 'use_code'])
    )
    expect(byName.billing_manager!.actions).toContain('read_usage')
    expect(byName.billing_manager!.actions).not.toContain('use_chat')
    expect(byName.member!.actions).toEqual(['read_organization', 'read_roles', 'read_workspace'])
  })
})
