import { ScanCommand } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
  ws = (await api.create('/v1/workspaces', { name: 'Invited' })).id
})
afterAll(() => h.close())

const accept = (token: string, name = 'Newcomer') =>
  h.call('POST', '/v1/invites/accept', { body: { token, name } })

describe('POST /v1/invites', () => {
  it('creates a pending invite with a one-time token stored only as a hash', async () => {
    const address = email('invitee')
    const res = await api.post('/v1/invites', {
      email: address,
      org_role: 'billing_manager',
      workspaces: [{ workspace_id: ws, roles: ['billing'] }],
    })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({
      object: 'invite',
      email: address,
      org_role: 'billing_manager',
      status: 'pending',
      accepted_at: null,
      revoked_at: null,
      created_by: { type: 'admin_key', id: org.adminKeyId },
    })
    expect(res.body.id).toMatch(/^inv_/)
    expect(res.body.token).toMatch(/^invt_[A-Za-z0-9_-]{40,}$/)
    expect(Date.parse(res.body.expires_at) - Date.parse(res.body.created_at)).toBe(21 * DAY)
    expect(res.body.workspaces).toEqual([
      { workspace_id: org.defaultWorkspaceId, roles: ['workspace_contributor'] },
      { workspace_id: ws, roles: ['billing'] },
    ])
    const table = await h.db.doc.send(new ScanCommand({ TableName: h.db.tableName }))
    expect(JSON.stringify(table.Items)).not.toContain(res.body.token)
    const listed = await api.get(`/v1/invites/${res.body.id}`)
    expect(listed.body.token).toBeUndefined()
    expect(listed.body.status).toBe('pending')
  })

  it('validates the expiry (1..30 days) and workspaces', async () => {
    const ok = await api.post('/v1/invites', { email: email(), expires_in_days: 30 })
    expect(Date.parse(ok.body.expires_at) - Date.parse(ok.body.created_at)).toBe(30 * DAY)
    for (const days of [0, 31, 1.5, '7']) {
      const res = await api.post('/v1/invites', { email: email(), expires_in_days: days })
      expect(res.status, String(days)).toBe(400)
      expect(res.body.error.param).toBe('expires_in_days')
    }
    const missing = await api.post('/v1/invites', {
      email: email(),
      workspaces: [{ workspace_id: 'ws_missing', roles: ['user'] }],
    })
    expect(missing.status).toBe(404)
    expect((await api.post('/v1/invites', { email: 'nope' })).status).toBe(400)
  })

  it('honours Idempotency-Key: one invite, the replay shows the same token', async () => {
    const body = { email: email('idem') }
    const first = await api.post('/v1/invites', body, { 'idempotency-key': 'invite-1' })
    const again = await api.post('/v1/invites', body, { 'idempotency-key': 'invite-1' })
    expect(again.body).toEqual(first.body)
    const pending = await listAll<{ email: string }>(api, '/v1/invites?status=pending')
    expect(pending.filter((i) => i.email === body.email)).toHaveLength(1)
  })

  it('refuses an email that is already a member (any case)', async () => {
    const member = await api.create('/v1/members', { email: email('member'), name: 'Member' })
    const res = await api.post('/v1/invites', { email: member.email.toUpperCase() })
    expect(res.status).toBe(409)
    expect(res.body.error.param).toBe('email')
  })
})

describe('POST /v1/invites/accept', () => {
  it('creates the member with the invited roles, without any other credential', async () => {
    const address = email('joiner')
    const invite = (
      await api.post('/v1/invites', {
        email: address,
        org_role: 'billing_manager',
        workspaces: [{ workspace_id: ws, roles: ['billing', 'user'] }],
      })
    ).body
    const res = await accept(invite.token, 'Joiner')
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({
      object: 'member',
      id: invite.member_id,
      email: address,
      name: 'Joiner',
      org_role: 'billing_manager',
      status: 'active',
    })
    const access = (await api.get(`/v1/members/${res.body.id}/effective-access`)).body
    const roles = Object.fromEntries(
      access.workspaces.map((w: { workspace_id: string; roles: { role: string }[] }) => [
        w.workspace_id,
        w.roles.map((r) => r.role),
      ])
    )
    expect(roles).toEqual({
      [org.defaultWorkspaceId]: ['workspace_contributor'],
      [ws]: ['user', 'billing'],
    })
    const after = (await api.get(`/v1/invites/${invite.id}`)).body
    expect(after.status).toBe('accepted')
    expect(after.accepted_at).toEqual(expect.any(String))
    const events = await api.get(`/v1/audit-events?target_id=${invite.id}`)
    const accepted = events.body.data.find(
      (e: { event_type: string }) => e.event_type === 'invite.accepted'
    )
    expect(accepted.actor).toEqual({ type: 'invite', id: invite.id })
    const created = await api.get(
      `/v1/audit-events?event_type=member.created&target_id=${res.body.id}`
    )
    expect(created.body.data[0].actor).toEqual({ type: 'invite', id: invite.id })
  })

  it('a used, revoked or expired token gets a clear error; an unknown one 404', async () => {
    const used = (await api.post('/v1/invites', { email: email() })).body
    expect((await accept(used.token)).status).toBe(201)
    const again = await accept(used.token)
    expect(again.status).toBe(409)
    expect(again.body.error).toMatchObject({
      param: 'token',
      message: 'This invite was already accepted.',
    })

    const revoked = (await api.post('/v1/invites', { email: email() })).body
    expect((await api.delete(`/v1/invites/${revoked.id}`)).status).toBe(200)
    const res = await accept(revoked.token)
    expect(res.status).toBe(409)
    expect(res.body.error.message).toBe('This invite was revoked.')

    const expiring = (await api.post('/v1/invites', { email: email(), expires_in_days: 1 })).body
    h.clock.advance(DAY + 1000)
    const expired = await accept(expiring.token)
    expect(expired.status).toBe(409)
    expect(expired.body.error.message).toContain('This invite expired')
    expect((await api.get(`/v1/invites/${expiring.id}`)).body.status).toBe('expired')
    expect(await listAll(api, `/v1/members?email=${encodeURIComponent(expiring.email)}`)).toEqual(
      []
    )

    const unknown = await accept('invt_unknown-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.param).toBe('token')
    expect(
      (await h.call('POST', '/v1/invites/accept', { body: { token: used.token } })).status
    ).toBe(400)
  })

  it('concurrent accepts of one token create one member', async () => {
    const invite = (await api.post('/v1/invites', { email: email('twice') })).body
    const results = await Promise.all([
      accept(invite.token),
      accept(invite.token),
      accept(invite.token),
    ])
    const created = results.filter((r) => r.status === 201)
    expect(created.length).toBeGreaterThanOrEqual(1)
    expect(new Set(created.map((r) => r.body.id))).toEqual(new Set([invite.member_id]))
    expect(results.every((r) => r.status === 201 || r.status === 409)).toBe(true)
    expect(
      await listAll(api, `/v1/members?email=${encodeURIComponent(invite.email)}`)
    ).toHaveLength(1)
  })

  it('an invite whose email became a member meanwhile → 409, and can still be revoked', async () => {
    const address = email('raced')
    const invite = (await api.post('/v1/invites', { email: address })).body
    await api.create('/v1/members', { email: address, name: 'Direct' })
    const res = await accept(invite.token)
    expect(res.status).toBe(409)
    expect(res.body.error.param).toBe('email')
    expect((await api.delete(`/v1/invites/${invite.id}`)).body.status).toBe('revoked')
  })
})

describe('listing and revoking invites', () => {
  it('lists newest first with a status filter; revokes idempotently; accepted → 409', async () => {
    const other = await createOrg(h, 'Invites B')
    const b = as(h, other.adminKey)
    const first = (await b.post('/v1/invites', { email: email() })).body
    const second = (await b.post('/v1/invites', { email: email() })).body
    const third = (await b.post('/v1/invites', { email: email() })).body
    await accept(third.token)
    const list = await listAll<{ id: string }>(b, '/v1/invites', 1)
    expect(list.map((i) => i.id)).toEqual([third.id, second.id, first.id])
    const revoked = await b.delete(`/v1/invites/${first.id}`)
    expect(revoked.body).toMatchObject({ status: 'revoked', revoked_at: expect.any(String) })
    expect((await b.delete(`/v1/invites/${first.id}`)).body.revoked_at).toBe(
      revoked.body.revoked_at
    )
    expect((await b.delete(`/v1/invites/${third.id}`)).status).toBe(409)
    expect((await b.delete('/v1/invites/inv_missing')).status).toBe(404)
    const pending = await listAll<{ id: string }>(b, '/v1/invites?status=pending')
    expect(pending.map((i) => i.id)).toEqual([second.id])
    const accepted = await listAll<{ id: string }>(b, '/v1/invites?status=accepted')
    expect(accepted.map((i) => i.id)).toEqual([third.id])
    expect((await b.get('/v1/invites?status=maybe')).status).toBe(400)
  })
})
