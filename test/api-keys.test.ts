import { ScanCommand } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordApiKeyUse } from '../functions/domain/api-keys.js'
import { as, type Caller, email, listAll } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let api: Caller
let ws: string
const DAY = 24 * 60 * 60 * 1000

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  api = as(h, org.adminKey)
  ws = (await api.create('/v1/workspaces', { name: 'Keys' })).id
})
afterAll(() => h.close())

/** A workspace API key authenticates, but may call nothing here: 403, not 401. */
const works = async (secret: string) =>
  (await h.call('GET', '/v1/organization', { key: secret })).status === 403

describe('workspace API keys', () => {
  it('creates a key whose secret is shown once, stored hashed, and authenticates', async () => {
    const member = await api.create('/v1/members', { email: email(), name: 'Owner' })
    const res = await api.post('/v1/api-keys', {
      name: 'ci',
      workspace_id: ws,
      member_id: member.id,
    })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({
      object: 'api_key',
      organization_id: org.id,
      workspace_id: ws,
      member_id: member.id,
      name: 'ci',
      status: 'active',
      expires_at: null,
      last_used_at: null,
      rotated_at: null,
      revoked_at: null,
      created_by: { type: 'admin_key', id: org.adminKeyId },
    })
    expect(res.body.id).toMatch(/^key_/)
    expect(res.body.secret).toMatch(/^sk_[A-Za-z0-9_-]{40,}$/)
    expect(res.body.redacted_value).toBe(`sk_...${res.body.secret.slice(-4)}`)
    expect(await works(res.body.secret)).toBe(true)
    const table = await h.db.doc.send(new ScanCommand({ TableName: h.db.tableName }))
    expect(JSON.stringify(table.Items)).not.toContain(res.body.secret)
    const got = await api.get(`/v1/api-keys/${res.body.id}`)
    expect(got.body.secret).toBeUndefined()
    expect(got.body.id).toBe(res.body.id)
    const events = await api.get(`/v1/audit-events?target_id=${res.body.id}`)
    expect(events.body.data[0]).toMatchObject({ event_type: 'api_key.created', workspace_id: ws })
  })

  it("clamps the expiry to the organization's api_key_max_validity_days", async () => {
    const now = h.clock.now().getTime()
    await api.patch('/v1/organization', { settings: { api_key_max_validity_days: 30 } })
    try {
      const none = await api.post('/v1/api-keys', { name: 'a', workspace_id: ws })
      expect(Date.parse(none.body.expires_at)).toBe(now + 30 * DAY)
      const tooLate = await api.post('/v1/api-keys', {
        name: 'b',
        workspace_id: ws,
        expires_at: new Date(now + 90 * DAY).toISOString(),
      })
      expect(Date.parse(tooLate.body.expires_at)).toBe(now + 30 * DAY)
      const sooner = new Date(now + 5 * DAY).toISOString()
      const early = await api.post('/v1/api-keys', {
        name: 'c',
        workspace_id: ws,
        expires_at: sooner,
      })
      expect(early.body.expires_at).toBe(sooner)
      const past = await api.post('/v1/api-keys', {
        name: 'd',
        workspace_id: ws,
        expires_at: new Date(now - 1000).toISOString(),
      })
      expect(past.status).toBe(400)
      expect(past.body.error.param).toBe('expires_at')
      // The key stops working at its expiry.
      h.clock.advance(5 * DAY + 1000)
      expect(await works(early.body.secret)).toBe(false)
      expect(await works(tooLate.body.secret)).toBe(true)
    } finally {
      await api.patch('/v1/organization', { settings: { api_key_max_validity_days: null } })
    }
  })

  it('refuses unknown or archived workspaces and unknown or deactivated members', async () => {
    const archived = await api.create('/v1/workspaces', { name: 'Old' })
    await api.post(`/v1/workspaces/${archived.id}/archive`)
    const quiet = await api.create('/v1/members', { email: email(), name: 'Quiet' })
    await api.patch(`/v1/members/${quiet.id}`, { status: 'deactivated' })
    const cases: [Record<string, unknown>, number, string | null][] = [
      [{ name: 'x', workspace_id: 'ws_missing' }, 404, 'workspace_id'],
      [{ name: 'x', workspace_id: archived.id }, 409, 'workspace_id'],
      [{ name: 'x', workspace_id: ws, member_id: 'mem_missing' }, 404, 'member_id'],
      [{ name: 'x', workspace_id: ws, member_id: quiet.id }, 409, 'member_id'],
      [{ name: 'x' }, 400, 'workspace_id'],
      [{ name: 'x', workspace_id: ws, expires_at: 'tomorrow' }, 400, 'expires_at'],
    ]
    const before = (await listAll(api, '/v1/api-keys')).length
    for (const [body, status, param] of cases) {
      const res = await api.post('/v1/api-keys', body)
      expect(res.status, JSON.stringify(body)).toBe(status)
      expect(res.body.error.param).toBe(param)
    }
    expect((await listAll(api, '/v1/api-keys')).length).toBe(before)
  })

  it('lists with filters and pagination', async () => {
    const other = await api.create('/v1/workspaces', { name: 'Other keys' })
    const a = await api.create('/v1/api-keys', { name: 'one', workspace_id: other.id })
    const b = await api.create('/v1/api-keys', { name: 'two', workspace_id: other.id })
    await api.delete(`/v1/api-keys/${a.id}`)
    const inOther = await listAll<{ id: string }>(api, `/v1/api-keys?workspace_id=${other.id}`, 1)
    expect(inOther.map((k) => k.id)).toEqual([a.id, b.id])
    const active = await listAll<{ id: string }>(
      api,
      `/v1/api-keys?workspace_id=${other.id}&status=active`
    )
    expect(active.map((k) => k.id)).toEqual([b.id])
    expect(JSON.stringify(inOther)).not.toContain(b.secret)
  })

  it('revokes: the secret stops working at once; revoking twice returns the same key', async () => {
    const key = await api.create('/v1/api-keys', { name: 'gone', workspace_id: ws })
    const res = await api.delete(`/v1/api-keys/${key.id}`)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ status: 'revoked', revoked_at: expect.any(String) })
    expect(await works(key.secret)).toBe(false)
    expect((await api.delete(`/v1/api-keys/${key.id}`)).body.revoked_at).toBe(res.body.revoked_at)
    expect((await api.delete('/v1/api-keys/key_missing')).status).toBe(404)
    expect((await api.get('/v1/api-keys/key_missing')).status).toBe(404)
  })

  it('rotates: a new secret works, the old one stops; a revoked key cannot rotate', async () => {
    const key = await api.create('/v1/api-keys', { name: 'rotating', workspace_id: ws })
    const rotated = await api.post(`/v1/api-keys/${key.id}/rotate`)
    expect(rotated.status).toBe(200)
    expect(rotated.body.id).toBe(key.id)
    expect(rotated.body.secret).not.toBe(key.secret)
    expect(rotated.body.redacted_value).toBe(`sk_...${rotated.body.secret.slice(-4)}`)
    expect(rotated.body.rotated_at).toEqual(expect.any(String))
    expect(await works(key.secret)).toBe(false)
    expect(await works(rotated.body.secret)).toBe(true)
    const events = await api.get(`/v1/audit-events?target_id=${key.id}&event_type=api_key.rotated`)
    expect(events.body.data).toHaveLength(1)
    expect(JSON.stringify(events.body)).not.toContain(rotated.body.secret)
    // Revoking after a rotation stops the new secret.
    await api.delete(`/v1/api-keys/${key.id}`)
    expect(await works(rotated.body.secret)).toBe(false)
    expect((await api.post(`/v1/api-keys/${key.id}/rotate`)).status).toBe(409)
  })

  it('of concurrent rotations, the survivors hold the only working secret', async () => {
    const key = await api.create('/v1/api-keys', { name: 'contended', workspace_id: ws })
    const results = await Promise.all([
      api.post(`/v1/api-keys/${key.id}/rotate`),
      api.post(`/v1/api-keys/${key.id}/rotate`),
    ])
    const won = results.filter((r) => r.status === 200)
    expect(won.length).toBeGreaterThanOrEqual(1)
    const working = await Promise.all(
      [key.secret, ...results.map((r) => r.body.secret).filter(Boolean)].map(works)
    )
    expect(working.filter(Boolean)).toHaveLength(1)
  })

  it('honours Idempotency-Key: one key, and the replay shows the same secret', async () => {
    const body = { name: 'idempotent', workspace_id: ws }
    const first = await api.post('/v1/api-keys', body, { 'idempotency-key': 'key-create-1' })
    const again = await api.post('/v1/api-keys', body, { 'idempotency-key': 'key-create-1' })
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.body).toEqual(first.body)
    const named = await listAll<{ name: string }>(api, `/v1/api-keys?workspace_id=${ws}`)
    expect(named.filter((k) => k.name === 'idempotent')).toHaveLength(1)
    // A rotation with a key is done once too.
    const r1 = await api.post(`/v1/api-keys/${first.body.id}/rotate`, undefined, {
      'idempotency-key': 'rotate-1',
    })
    const r2 = await api.post(`/v1/api-keys/${first.body.id}/rotate`, undefined, {
      'idempotency-key': 'rotate-1',
    })
    expect(r2.body.secret).toBe(r1.body.secret)
    expect(await works(r1.body.secret)).toBe(true)
  })

  it('keeps last_used_at when the key is used (introspection calls recordApiKeyUse)', async () => {
    const key = await api.create('/v1/api-keys', { name: 'used', workspace_id: ws })
    await recordApiKeyUse(h, org.id, key.id)
    const first = (await api.get(`/v1/api-keys/${key.id}`)).body.last_used_at
    expect(first).toBe(h.clock.now().toISOString())
    h.clock.advance(10_000)
    await recordApiKeyUse(h, org.id, key.id)
    // Written at most once a minute.
    expect((await api.get(`/v1/api-keys/${key.id}`)).body.last_used_at).toBe(first)
    h.clock.advance(60_000)
    await recordApiKeyUse(h, org.id, key.id)
    expect((await api.get(`/v1/api-keys/${key.id}`)).body.last_used_at).toBe(
      h.clock.now().toISOString()
    )
  })
})
