import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { as, type Caller, email, listAll } from './helpers/admin-model.js'
import { FaultyDb } from './helpers/faults.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/**
 * Member removal cascades (group memberships, grants, seats, API keys), a removal that fails
 * half-way and is completed by a retry, and recovery of a half-finished creation.
 */
let h: Harness
let db: FaultyDb
let org: Awaited<ReturnType<typeof createOrg>>
let api: Caller
let workspaceId: string

beforeAll(async () => {
  h = await startHarness({ makeDb: (doc, table) => (db = new FaultyDb(doc, table)) })
  org = await createOrg(h)
  api = as(h, org.adminKey)
  workspaceId = (await api.create('/v1/workspaces', { name: 'Lab' })).id
  await api.create('/v1/seats/chat', { purchased: 5 }, 'PUT')
})
afterAll(() => h.close())
beforeEach(() => db.disarm())

/** A member in a group, with a direct grant, a chat seat and an API key. */
async function equippedMember() {
  const address = email('leaver')
  const member = await api.create('/v1/members', { email: address, name: 'Leaver' })
  const group = await api.create('/v1/groups', { name: `Team ${member.id}` })
  await api.create(`/v1/groups/${group.id}/members/${member.id}`, undefined, 'PUT')
  await api.create(
    `/v1/workspaces/${workspaceId}/access/members/${member.id}`,
    { roles: ['dev'] },
    'PUT'
  )
  await api.create(`/v1/members/${member.id}/seats/chat`, undefined, 'PUT')
  const key = await api.create('/v1/api-keys', {
    name: 'laptop',
    workspace_id: workspaceId,
    member_id: member.id,
  })
  return { member, group, key, address }
}

async function expectFullyRemoved(subject: Awaited<ReturnType<typeof equippedMember>>) {
  const { member, group, key } = subject
  expect((await api.get(`/v1/members/${member.id}`)).status).toBe(404)
  expect((await api.get(`/v1/members/${member.id}/effective-access`)).status).toBe(404)
  const groupMembers = await listAll<{ id: string }>(api, `/v1/groups/${group.id}/members`)
  expect(groupMembers.map((m) => m.id)).not.toContain(member.id)
  for (const ws of [workspaceId, org.defaultWorkspaceId]) {
    const grants = await listAll<{ principal: { id: string } }>(api, `/v1/workspaces/${ws}/access`)
    expect(grants.map((g) => g.principal.id)).not.toContain(member.id)
  }
  const seats = await api.get('/v1/seats')
  expect(seats.body.data.find((s: { product: string }) => s.product === 'chat').assigned).toBe(0)
  expect((await api.get(`/v1/api-keys/${key.id}`)).body.status).toBe('revoked')
  expect((await h.call('GET', '/v1/organization', { key: key.secret })).status).toBe(401)
  const raw = await h.db.get({ PK: `ORG#${org.id}`, SK: `MEM#${member.id}` })
  expect(raw).toBeUndefined()
}

describe('DELETE /v1/members/{id}', () => {
  it('removes memberships, grants, seats and API keys, and frees the email', async () => {
    const subject = await equippedMember()
    // The API key works before the removal (an api_key credential may call nothing here: 403).
    expect((await h.call('GET', '/v1/organization', { key: subject.key.secret })).status).toBe(403)
    const res = await api.delete(`/v1/members/${subject.member.id}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ object: 'member.deleted', id: subject.member.id, deleted: true })
    await expectFullyRemoved(subject)
    expect((await api.delete(`/v1/members/${subject.member.id}`)).status).toBe(404)
    const events = await listAll<{ event_type: string; target: { id: string } }>(
      api,
      '/v1/audit-events?after_time=2000-01-01T00:00:00Z'
    )
    const types = events
      .filter((e) => JSON.stringify(e).includes(subject.member.id))
      .map((e) => e.event_type)
    expect(types).toEqual(
      expect.arrayContaining([
        'member.removed',
        'api_key.revoked',
        'seat.released',
        'group.member_removed',
        'workspace.access_removed',
      ])
    )
    const again = await api.post('/v1/members', { email: subject.address, name: 'Returner' })
    expect(again.status).toBe(201)
  })

  it('a removal that fails half-way is completed by retrying the DELETE', async () => {
    const subject = await equippedMember()
    db.arm({ op: 'delete', sk: /^GRANT#/ })
    const failed = await api.delete(`/v1/members/${subject.member.id}`)
    expect(failed.status).toBe(500)
    expect(db.pending()).toBe(0)
    // Half-way: the member is gone for the API and its key no longer works...
    expect((await api.get(`/v1/members/${subject.member.id}`)).status).toBe(404)
    expect((await h.call('GET', '/v1/organization', { key: subject.key.secret })).status).toBe(401)
    // ...but some grants are still there.
    const leftover = await listAll<{ principal: { id: string } }>(
      api,
      `/v1/workspaces/${org.defaultWorkspaceId}/access`
    )
    const inLab = await listAll<{ principal: { id: string } }>(
      api,
      `/v1/workspaces/${workspaceId}/access`
    )
    expect([...leftover, ...inLab].some((g) => g.principal.id === subject.member.id)).toBe(true)
    const retry = await api.delete(`/v1/members/${subject.member.id}`)
    expect(retry.status).toBe(200)
    await expectFullyRemoved(subject)
  })

  it('a half-finished removal is also completed when its email is added again', async () => {
    const subject = await equippedMember()
    db.arm({ op: 'delete', sk: /^GMEM#/ })
    expect((await api.delete(`/v1/members/${subject.member.id}`)).status).toBe(500)
    const again = await api.post('/v1/members', { email: subject.address, name: 'Again' })
    expect(again.status).toBe(201)
    expect(again.body.id).not.toBe(subject.member.id)
    await expectFullyRemoved(subject)
  })

  it('a removal that fails at its last step frees the email at once when retried', async () => {
    const subject = await equippedMember()
    db.arm({ op: 'delete', sk: /^UNIQ#email#/ })
    expect((await api.delete(`/v1/members/${subject.member.id}`)).status).toBe(500)
    expect(db.pending()).toBe(0)
    // The retry still finds a removal to finish (not a 404 that leaves the email held)...
    expect((await api.delete(`/v1/members/${subject.member.id}`)).status).toBe(200)
    await expectFullyRemoved(subject)
    // ...so the address is free now, not only once a lease has run out.
    const again = await api.post('/v1/members', { email: subject.address, name: 'Again' })
    expect(again.status).toBe(201)
  })
})

describe('DELETE /v1/groups/{id}', () => {
  it('a deletion that fails at its last step frees the name at once when retried', async () => {
    const name = `Short-lived ${Date.now()}`
    const group = await api.create('/v1/groups', { name })
    db.arm({ op: 'delete', sk: /^UNIQ#group/ })
    expect((await api.delete(`/v1/groups/${group.id}`)).status).toBe(500)
    expect(db.pending()).toBe(0)
    expect((await api.delete(`/v1/groups/${group.id}`)).status).toBe(200)
    expect((await api.get(`/v1/groups/${group.id}`)).status).toBe(404)
    const again = await api.post('/v1/groups', { name })
    expect(again.status).toBe(201)
  })
})

describe('a half-finished creation', () => {
  it('whose member item was never written: the email is taken over after the lease', async () => {
    const address = email('crash')
    db.arm({ op: 'put', sk: /^MEM#/ })
    expect((await api.post('/v1/members', { email: address, name: 'A' })).status).toBe(500)
    expect((await api.get(`/v1/members?email=${address}`)).body.data).toEqual([])
    const soon = await api.post('/v1/members', { email: address, name: 'B' })
    expect(soon.status).toBe(409)
    expect(soon.body.error.message).toContain('being created')
    h.clock.advance(61_000)
    const later = await api.post('/v1/members', { email: address, name: 'B' })
    expect(later.status).toBe(201)
  })

  it('stuck in `creating` with some grants: abandoned and cleaned after the lease', async () => {
    const address = email('stuck')
    const before = await listAll<{ principal: { id: string } }>(
      api,
      `/v1/workspaces/${org.defaultWorkspaceId}/access`
    )
    // The default workspace grant is written, the Lab grant fails.
    db.arm({ op: 'put', sk: new RegExp(`^GRANT#${workspaceId}#`) })
    const failed = await api.post('/v1/members', {
      email: address,
      name: 'Stuck',
      workspaces: [{ workspace_id: workspaceId, roles: ['user'] }],
    })
    expect(failed.status).toBe(500)
    expect(await listAll(api, `/v1/members?email=${address}`)).toEqual([])
    h.clock.advance(61_000)
    const created = await api.post('/v1/members', { email: address, name: 'Fresh' })
    expect(created.status).toBe(201)
    const after = await listAll<{ principal: { id: string } }>(
      api,
      `/v1/workspaces/${org.defaultWorkspaceId}/access`
    )
    // Exactly one new grant in the default workspace: the new member's (the stuck one's is gone).
    const added = after.filter((g) => !before.some((b) => b.principal.id === g.principal.id))
    expect(added.map((g) => g.principal.id)).toEqual([created.body.id])
  })
})
