import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { as, type Caller, email } from './helpers/admin-model.js'
import { FaultyDb } from './helpers/faults.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

let h: Harness
let db: FaultyDb

beforeAll(async () => {
  h = await startHarness({ makeDb: (doc, table) => (db = new FaultyDb(doc, table)) })
})
afterAll(() => h.close())
beforeEach(() => db.disarm())

async function freshOrg() {
  const org = await createOrg(h, 'Seats')
  return { org, api: as(h, org.adminKey) }
}
const newMember = (api: Caller) =>
  api.create('/v1/members', { email: email('seat'), name: 'Seat holder' })
const pool = async (api: Caller, product: 'chat' | 'code') =>
  (await api.get('/v1/seats')).body.data.find((p: { product: string }) => p.product === product)

describe('seats', () => {
  it('starts at 0/0 for each product; PUT sets purchased with an ETag and If-Match', async () => {
    const { api } = await freshOrg()
    const list = await api.get('/v1/seats')
    expect(list.body).toMatchObject({ object: 'list', has_more: false, next_cursor: null })
    expect(list.body.data).toEqual([
      { object: 'seat_pool', product: 'chat', purchased: 0, assigned: 0, version: 0 },
      { object: 'seat_pool', product: 'code', purchased: 0, assigned: 0, version: 0 },
    ])
    const set = await api.put('/v1/seats/code', { purchased: 3 })
    expect(set.status).toBe(200)
    expect(set.body).toMatchObject({ product: 'code', purchased: 3, assigned: 0, version: 1 })
    expect(set.headers.get('etag')).toBe('"1"')
    expect((await api.put('/v1/seats/code', { purchased: 4 }, { 'if-match': '"0"' })).status).toBe(
      412
    )
    expect(
      (await api.put('/v1/seats/code', { purchased: 4 }, { 'if-match': '"1"' })).body.purchased
    ).toBe(4)
    expect((await api.put('/v1/seats/video', { purchased: 1 })).status).toBe(400)
    expect((await api.put('/v1/seats/chat', { purchased: -1 })).status).toBe(400)
    expect((await api.put('/v1/seats/chat', { purchased: 1.5 })).status).toBe(400)
  })

  it('assigns (201, then 200), counts, releases, and refuses when none is free', async () => {
    const { api } = await freshOrg()
    const [a, b] = [await newMember(api), await newMember(api)]
    const none = await api.put(`/v1/members/${a.id}/seats/chat`)
    expect(none.status).toBe(409)
    await api.put('/v1/seats/chat', { purchased: 1 })
    const assigned = await api.put(`/v1/members/${a.id}/seats/chat`)
    expect(assigned.status).toBe(201)
    expect(assigned.body).toMatchObject({
      object: 'seat_assignment',
      product: 'chat',
      member_id: a.id,
    })
    expect((await api.put(`/v1/members/${a.id}/seats/chat`)).status).toBe(200)
    expect(await pool(api, 'chat')).toMatchObject({ purchased: 1, assigned: 1 })
    const full = await api.put(`/v1/members/${b.id}/seats/chat`)
    expect(full.status).toBe(409)
    expect(full.body.error.message).toContain('No chat seat is free')
    // Lowering below the assigned count → 409; to it → fine.
    expect((await api.put('/v1/seats/chat', { purchased: 0 })).status).toBe(409)
    const released = await api.delete(`/v1/members/${a.id}/seats/chat`)
    expect(released.body).toEqual({
      object: 'seat_assignment.deleted',
      product: 'chat',
      member_id: a.id,
      deleted: true,
    })
    expect((await api.delete(`/v1/members/${a.id}/seats/chat`)).status).toBe(404)
    expect(await pool(api, 'chat')).toMatchObject({ assigned: 0 })
    expect((await api.put(`/v1/members/${b.id}/seats/chat`)).status).toBe(201)
    expect((await api.put('/v1/seats/chat', { purchased: 1 })).status).toBe(200)
    const events = await api.get('/v1/audit-events?limit=100')
    const types = events.body.data.map((e: { event_type: string }) => e.event_type)
    expect(types).toEqual(
      expect.arrayContaining(['seats.updated', 'seat.assigned', 'seat.released'])
    )
  })

  it('404s unknown members and refuses deactivated ones', async () => {
    const { api } = await freshOrg()
    await api.put('/v1/seats/code', { purchased: 2 })
    expect((await api.put('/v1/members/mem_missing/seats/code')).status).toBe(404)
    expect((await api.delete('/v1/members/mem_missing/seats/code')).status).toBe(404)
    const m = await newMember(api)
    await api.patch(`/v1/members/${m.id}`, { status: 'deactivated' })
    expect((await api.put(`/v1/members/${m.id}/seats/code`)).status).toBe(409)
    expect(await pool(api, 'code')).toMatchObject({ assigned: 0 })
  })

  it('50 parallel assignments for 10 seats give exactly 10 successes', async () => {
    const { api } = await freshOrg()
    await api.put('/v1/seats/chat', { purchased: 10 })
    const members = await Promise.all(Array.from({ length: 50 }, () => newMember(api)))
    const results = await Promise.all(members.map((m) => api.put(`/v1/members/${m.id}/seats/chat`)))
    expect(results.filter((r) => r.status === 201)).toHaveLength(10)
    expect(results.filter((r) => r.status === 409)).toHaveLength(40)
    expect(await pool(api, 'chat')).toMatchObject({ purchased: 10, assigned: 10 })
    // Exactly the 10 winners hold a seat: each can be released once.
    const winners = members.filter((_, i) => results[i]!.status === 201)
    const releases = await Promise.all(
      winners.map((m) => api.delete(`/v1/members/${m.id}/seats/chat`))
    )
    expect(releases.every((r) => r.status === 200)).toBe(true)
    expect(await pool(api, 'chat')).toMatchObject({ assigned: 0 })
  })

  it('lowering purchased while assignments race never leaves assigned above purchased', async () => {
    const { api } = await freshOrg()
    await api.put('/v1/seats/code', { purchased: 6 })
    const members = await Promise.all(Array.from({ length: 6 }, () => newMember(api)))
    const [lowered, ...assigns] = await Promise.all([
      api.put('/v1/seats/code', { purchased: 3 }),
      ...members.map((m) => api.put(`/v1/members/${m.id}/seats/code`)),
    ])
    const after = await pool(api, 'code')
    expect(after.assigned).toBeLessThanOrEqual(after.purchased)
    expect(after.assigned).toBe(assigns.filter((r) => r.status === 201).length)
    if (lowered!.status === 200) expect(after.purchased).toBe(3)
    else expect(lowered!.status).toBe(409)
  })

  it('an assignment that crashed after counting is finished by a retry, counted once', async () => {
    const { api } = await freshOrg()
    await api.put('/v1/seats/chat', { purchased: 2 })
    const m = await newMember(api)
    db.arm({ op: 'put', sk: /^SEAT#chat#/ })
    expect((await api.put(`/v1/members/${m.id}/seats/chat`)).status).toBe(500)
    // Counted, not yet assigned: the seat is held, so nothing can over-allocate.
    expect(await pool(api, 'chat')).toMatchObject({ assigned: 1 })
    const soon = await api.put(`/v1/members/${m.id}/seats/chat`)
    expect(soon.status).toBe(409)
    expect(soon.body.error.message).toContain('in progress')
    h.clock.advance(61_000)
    const retried = await api.put(`/v1/members/${m.id}/seats/chat`)
    expect(retried.status).toBe(201)
    expect(await pool(api, 'chat')).toMatchObject({ assigned: 1 })
    expect((await api.delete(`/v1/members/${m.id}/seats/chat`)).status).toBe(200)
    expect(await pool(api, 'chat')).toMatchObject({ assigned: 0 })
  })

  it('a release that crashed after deleting the seat is finished by a retry, uncounted once', async () => {
    const { api } = await freshOrg()
    await api.put('/v1/seats/code', { purchased: 2 })
    const m = await newMember(api)
    await api.put(`/v1/members/${m.id}/seats/code`)
    // A release updates the pool three times: start (marker), seat deleted next, then uncount.
    // The third update fails: the seat item is gone but still counted.
    db.arm({ op: 'update', sk: /^SEATPOOL#code$/, skip: 2 })
    expect((await api.delete(`/v1/members/${m.id}/seats/code`)).status).toBe(500)
    expect(db.pending()).toBe(0)
    expect(await pool(api, 'code')).toMatchObject({ assigned: 1 })
    h.clock.advance(61_000)
    // Retrying finishes the interrupted release, uncounting it once.
    const retry = await api.delete(`/v1/members/${m.id}/seats/code`)
    expect(retry.status).toBe(200)
    expect(await pool(api, 'code')).toMatchObject({ assigned: 0 })
  })
})
