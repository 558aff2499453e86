import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FaultyDb } from './helpers/faults.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/**
 * A 409 that only says "someone else holds this for a while" tells the client when to try again
 * (`Retry-After`, in seconds), as the contract does for 503 and the job lock does for its 409.
 */
let h: Harness
let db: FaultyDb
let org: Awaited<ReturnType<typeof createOrg>>

beforeAll(async () => {
  h = await startHarness({ makeDb: (doc, table) => new FaultyDb(doc, table) })
  db = h.db as FaultyDb
  org = await createOrg(h)
})
afterAll(() => h.close())

describe('409 "in progress" answers carry Retry-After', () => {
  it('an Idempotency-Key whose first request never completed: 409 until its lock runs out', async () => {
    const request = () =>
      h.call('POST', '/v1/workspaces', {
        key: org.adminKey,
        body: { name: 'Held' },
        headers: { 'idempotency-key': 'held-1' },
      })
    // The change is made, but storing its response fails: the change is still answered
    // (test/idempotency-record-faults.test.ts), and the key stays "in progress".
    db.arm({ op: 'update', sk: /^IDEM$/ })
    expect((await request()).status).toBe(201)
    expect(db.pending()).toBe(0)
    h.clock.advance(20_000)
    const held = await request()
    expect(held.status).toBe(409)
    expect(held.body.error).toMatchObject({ type: 'conflict', param: 'Idempotency-Key' })
    expect(held.headers.get('retry-after')).toBe('40')
  })

  it('a seat change held by a crashed request: Retry-After is what is left of its lease', async () => {
    expect(
      (await h.call('PUT', '/v1/seats/chat', { key: org.adminKey, body: { purchased: 2 } })).status
    ).toBe(200)
    const member = await h.call('POST', '/v1/members', {
      key: org.adminKey,
      body: { email: 'held-seat@example.com', name: 'Held' },
    })
    db.arm({ op: 'put', sk: /^SEAT#chat#/ })
    const seat = `/v1/members/${member.body.id}/seats/chat`
    expect((await h.call('PUT', seat, { key: org.adminKey })).status).toBe(500)
    h.clock.advance(15_000)
    const soon = await h.call('PUT', seat, { key: org.adminKey })
    expect(soon.status).toBe(409)
    expect(soon.headers.get('retry-after')).toBe('45')
    h.clock.advance(46_000)
    expect((await h.call('PUT', seat, { key: org.adminKey })).status).toBe(201)
  })
})
