import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, email } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createScimToken, expectScimError, newUser, scimClient } from './helpers/scim.js'

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let admin: Caller

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  admin = as(h, org.adminKey)
})
afterAll(() => h.close())

describe('SCIM tokens', () => {
  it('are created with a secret shown once, listed without it, and audited', async () => {
    const created = await admin.post('/v1/scim-tokens', { name: 'Okta' })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      object: 'scim_token',
      organization_id: org.id,
      name: 'Okta',
      status: 'active',
      created_by: { type: 'admin_key', id: org.adminKeyId },
      revoked_at: null,
    })
    expect(created.body.id).toMatch(/^sct_[0-9A-Z]{26}$/)
    expect(created.body.secret).toMatch(/^scim_[\w-]{43}$/)
    expect(created.body.redacted_value).toBe(`scim_...${created.body.secret.slice(-4)}`)

    const listed = await admin.get('/v1/scim-tokens')
    const found = listed.body.data.find((t: { id: string }) => t.id === created.body.id)
    expect(found).toMatchObject({ name: 'Okta', status: 'active' })
    expect(found.secret).toBeUndefined()
    expect(JSON.stringify(listed.body)).not.toContain(created.body.secret)

    const audit = await admin.get(`/v1/audit-events?target_id=${created.body.id}`)
    expect(audit.body.data.map((e: { event_type: string }) => e.event_type)).toEqual([
      'scim_token.created',
    ])
    expect(JSON.stringify(audit.body)).not.toContain(created.body.secret)
  })

  it('authenticate /scim/v2 until revoked; then 401 in the SCIM error schema', async () => {
    const token = await createScimToken(h, org.adminKey, 'Entra')
    const scim = scimClient(h, token.secret)
    expect((await scim.get('/ServiceProviderConfig')).status).toBe(200)

    const revoked = await admin.delete(`/v1/scim-tokens/${token.id}`)
    expect(revoked.status).toBe(200)
    expect(revoked.body).toMatchObject({ id: token.id, status: 'revoked' })
    expect(revoked.body.revoked_at).not.toBeNull()
    const res = await scim.get('/Users')
    expectScimError(res, 401)
    expect(res.headers.get('www-authenticate')).toBe('Bearer')

    const again = await admin.delete(`/v1/scim-tokens/${token.id}`)
    expect(again.body).toEqual(revoked.body)
    const audit = await admin.get(`/v1/audit-events?target_id=${token.id}`)
    expect(audit.body.data.map((e: { event_type: string }) => e.event_type)).toEqual([
      'scim_token.revoked',
      'scim_token.created',
    ])
  })

  it('reject bad input and unknown ids in the contract shape', async () => {
    const missing = await admin.post('/v1/scim-tokens', {})
    expect(missing.status).toBe(400)
    expect(missing.body.error.param).toBe('name')
    const extra = await admin.post('/v1/scim-tokens', { name: 'x', org_roles: ['member'] })
    expect(extra.status).toBe(400)
    const unknown = await admin.delete('/v1/scim-tokens/sct_01JD4V6S9Y3T2WQ7P1J5KX8N0M')
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.type).toBe('not_found')
  })

  it('replay a creation with the same Idempotency-Key', async () => {
    const headers = { 'idempotency-key': 'scim-token-1' }
    const first = await admin.post('/v1/scim-tokens', { name: 'Replay' }, headers)
    const second = await admin.post('/v1/scim-tokens', { name: 'Replay' }, headers)
    expect(second.status).toBe(201)
    expect(second.headers.get('idempotent-replayed')).toBe('true')
    expect(second.body).toEqual(first.body)
  })
})

describe('credentials on /scim/v2 and SCIM tokens elsewhere', () => {
  it('no or an unknown credential → 401; another kind of credential → 403, SCIM-shaped', async () => {
    expectScimError(await h.call('GET', '/scim/v2/Users'), 401)
    expectScimError(await h.call('GET', '/scim/v2/Users', { key: 'scim_nope' }), 401)
    expectScimError(await h.call('GET', '/scim/v2/Users', { key: org.adminKey }), 403)
    expectScimError(await h.call('GET', '/scim/v2/Users', { key: h.operatorKey }), 403)
  })

  it('a SCIM token may not call the Admin API (403 in the contract shape)', async () => {
    const token = await createScimToken(h, org.adminKey)
    const res = await h.call('GET', '/v1/members', { key: token.secret })
    expect(res.status).toBe(403)
    expect(res.body.error.type).toBe('permission')
    const keys = await h.call('POST', '/v1/scim-tokens', {
      key: token.secret,
      body: { name: 'self-made' },
    })
    expect(keys.status).toBe(403)
  })

  it('a SCIM token reaches its own organization only: another one’s users and groups are 404', async () => {
    const other = await createOrg(h, 'Other')
    const otherAdmin = as(h, other.adminKey)
    const stranger = (await otherAdmin.create('/v1/members', { email: email(), name: 'S' })).id
    const strangerGroup = (await otherAdmin.create('/v1/groups', { name: 'Theirs' })).id
    const mine = scimClient(h, (await createScimToken(h, org.adminKey)).secret)

    expectScimError(await mine.get(`/Users/${stranger}`), 404)
    expectScimError(await mine.get(`/Groups/${strangerGroup}`), 404)
    expectScimError(
      await mine.patch(`/Users/${stranger}`, [{ op: 'replace', value: { active: false } }]),
      404
    )
    expectScimError(await mine.delete(`/Users/${stranger}`), 404)
    expectScimError(await mine.delete(`/Groups/${strangerGroup}`), 404)
    const listed = await mine.get(`/Users?filter=id eq "${stranger}"`)
    expect(listed.body.totalResults).toBe(0)
    const all = await mine.get('/Users?count=200')
    expect(all.body.Resources.map((u: { id: string }) => u.id)).not.toContain(stranger)

    // A member of mine cannot be put into their group either.
    const user = (await mine.post('/Users', newUser(email()))).body
    expectScimError(
      await mine.patch(`/Groups/${strangerGroup}`, [
        { op: 'add', path: 'members', value: [{ value: user.id }] },
      ]),
      404
    )
    const theirMember = await otherAdmin.get(`/v1/members/${stranger}`)
    expect(theirMember.body.status).toBe('active')
    const theirGroup = await otherAdmin.get(`/v1/groups/${strangerGroup}/members`)
    expect(theirGroup.body.data).toEqual([])
  })
})
