/**
 * Usage events are rejected, one by one, when they name an API key or member the organization
 * does not have, a key of another workspace, or an archived workspace — read in one batched
 * call per request, not per event — while the valid events beside them count exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../functions/app/app.js'
import { newId } from '../functions/lib/ids.js'
import { eventBucket, USAGE_EVENT_BUCKETS } from '../functions/store/usage/events.js'
import { CountingDb } from './helpers/crashing-db.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { aggregate, createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'

let h: Harness
let svc: string
let n = 0

beforeAll(async () => {
  h = await startHarness()
  svc = await createServiceKey(h)
})
afterAll(() => h.close())

const at = (offsetMs: number) => new Date(h.clock.now().getTime() + offsetMs).toISOString()

async function created(method: string, path: string, key: string, body?: unknown) {
  const res = await h.call(method, path, { key, body })
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`${method} ${path}: ${res.status} ${res.text}`)
  }
  return res.body
}

/** An organization with a second workspace, two members and API keys in both workspaces. */
async function world(name: string) {
  const org = await createOrg(h, name)
  const ws = org.defaultWorkspaceId
  const other = (await created('POST', '/v1/workspaces', org.adminKey, { name: 'Other' })).id
  const member = (
    await created('POST', '/v1/members', org.adminKey, {
      email: `m${++n}@example.com`,
      name: 'M',
    })
  ).id
  const leaver = (
    await created('POST', '/v1/members', org.adminKey, {
      email: `l${++n}@example.com`,
      name: 'L',
    })
  ).id
  const key = (
    await created('POST', '/v1/api-keys', org.adminKey, {
      name: 'k',
      workspace_id: ws,
      member_id: member,
    })
  ).id
  const otherKey = (
    await created('POST', '/v1/api-keys', org.adminKey, { name: 'o', workspace_id: other })
  ).id
  return { ...org, ws, other, member, leaver, key, otherKey }
}

describe('usage events naming keys, members and workspaces', () => {
  it('rejects unknown or foreign keys and members and archived workspaces, per event', async () => {
    const a = await world('Refs A')
    const b = await world('Refs B')
    const revoked = (
      await created('POST', '/v1/api-keys', a.adminKey, { name: 'r', workspace_id: a.ws })
    ).id
    await created('DELETE', `/v1/api-keys/${revoked}`, a.adminKey)
    const archived = (await created('POST', '/v1/workspaces', a.adminKey, { name: 'Old' })).id
    await created('POST', `/v1/workspaces/${archived}/archive`, a.adminKey)
    expect((await h.call('DELETE', `/v1/members/${a.leaver}`, { key: a.adminKey })).status).toBe(
      200
    )

    const event = (id: string, fields: Record<string, unknown>) =>
      usageEvent({
        id,
        organization_id: a.id,
        workspace_id: a.ws,
        timestamp: at(-60_000),
        input_tokens: 100,
        ...fields,
      })
    const batch = [
      event('ok-plain', {}),
      event('ok-key-member', { api_key_id: a.key, member_id: a.member }),
      event('bad-key', { api_key_id: newId('apiKey') }),
      event('foreign-key', { api_key_id: b.key }),
      event('other-ws-key', { api_key_id: a.otherKey }),
      event('ok-other-ws', { workspace_id: a.other, api_key_id: a.otherKey }),
      event('bad-member', { member_id: newId('member') }),
      event('foreign-member', { member_id: b.member }),
      event('removed-member', { member_id: a.leaver }),
      event('archived', { workspace_id: archived }),
      event('ok-revoked-key', { api_key_id: revoked, member_id: null }),
      event('ok-key-member', { api_key_id: a.key, member_id: a.member }), // repeated in batch
    ]
    const expectedRejections = [
      [2, 'unknown_api_key', 'events.2.api_key_id'],
      [3, 'unknown_api_key', 'events.3.api_key_id'],
      [4, 'api_key_workspace_mismatch', 'events.4.api_key_id'],
      [6, 'unknown_member', 'events.6.member_id'],
      [7, 'unknown_member', 'events.7.member_id'],
      [8, 'unknown_member', 'events.8.member_id'],
      [9, 'workspace_archived', 'events.9.workspace_id'],
    ]
    const first = await sendEvents(h, svc, batch)
    expect(first.rejected.map((r) => [r.index, r.error.code, r.error.param])).toEqual(
      expectedRejections
    )
    for (const rejection of first.rejected) expect(rejection.error.message).toMatch(/\w/)
    expect(first.rejected[2]!.error.message).toContain(a.other)
    expect([first.accepted, first.duplicates]).toEqual([4, 1])

    // Sent again: the valid ones are duplicates, the others still rejected.
    const again = await sendEvents(h, svc, batch)
    expect(again.rejected.map((r) => [r.index, r.error.code, r.error.param])).toEqual(
      expectedRejections
    )
    expect([again.accepted, again.duplicates]).toEqual([0, 5])

    await aggregate(h)
    await aggregate(h)
    const usage = await h.call(
      'GET',
      `/v1/usage?starting_at=${at(-3_600_000)}&bucket_width=1d&group_by=workspace_id,api_key_id,member_id`,
      { key: a.adminKey }
    )
    expect(usage.status).toBe(200)
    const rows = usage.body.data.flatMap(
      (bucket: { results: Record<string, unknown>[] }) => bucket.results
    )
    const summary = rows
      .map(
        (r: Record<string, unknown>) =>
          `${r.workspace_id} ${r.api_key_id} ${r.member_id} ${r.requests}`
      )
      .sort()
    expect(summary).toEqual(
      [
        `${a.ws} null null 1`,
        `${a.ws} ${a.key} ${a.member} 1`,
        `${a.other} ${a.otherKey} null 1`,
        `${a.ws} ${revoked} null 1`,
      ].sort()
    )
    // Organization B got nothing from A's events naming its key and member.
    const other = await h.call('GET', `/v1/usage?starting_at=${at(-3_600_000)}&bucket_width=1d`, {
      key: b.adminKey,
    })
    expect(other.body.data.flatMap((bucket: { results: unknown[] }) => bucket.results)).toEqual([])
  })

  it('accepts an unarchived workspace again', async () => {
    const a = await world('Refs unarchive')
    await created('POST', `/v1/workspaces/${a.other}/archive`, a.adminKey)
    const send = (id: string) =>
      sendEvents(h, svc, [
        usageEvent({ id, organization_id: a.id, workspace_id: a.other, timestamp: at(-1000) }),
      ])
    expect((await send('u1')).rejected.map((r) => r.error.code)).toEqual(['workspace_archived'])
    await created('POST', `/v1/workspaces/${a.other}/unarchive`, a.adminKey)
    expect(await send('u2')).toMatchObject({ accepted: 1, rejected: [] })
  })

  it('reads keys and members in one batched call per request, not one per event', async () => {
    const a = await world('Refs reads')
    const counting = new CountingDb(h.db)
    const app = createApp({ db: counting, clock: h.clock, operatorKey: h.operatorKey })
    const reads = async (count: number, prefix: string) => {
      const events = Array.from({ length: count }, (_, i) =>
        usageEvent({
          id: `${prefix}-${i}`,
          organization_id: a.id,
          workspace_id: i % 2 ? a.ws : a.other,
          api_key_id: i % 2 ? a.key : a.otherKey,
          member_id: i % 3 ? a.member : null,
          timestamp: at(-1000),
        })
      )
      counting.reset()
      const res = await app.request('/v1/usage/events', {
        method: 'POST',
        headers: { authorization: `Bearer ${svc}`, 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
      })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ accepted: count, rejected: [] })
      // The duplicate check reads the copies of the ids one query per copy partition they
      // fall in (at most 16 whatever the count: they are read by range).
      const partitions = new Set(events.map((event) => eventBucket(event.id as string))).size
      return { calls: counting.readCalls, partitions }
    }
    const few = await reads(4, 'few')
    const many = await reads(1000, 'many')
    // Beyond the duplicate check's queries, 1000 events read no more than 4 did (less: the
    // first request also read what the process then caches): the named workspaces, keys and
    // members add nothing per event.
    expect(many.calls - many.partitions).toBeLessThanOrEqual(few.calls - few.partitions)
    expect(many.partitions).toBeLessThanOrEqual(USAGE_EVENT_BUCKETS)
  })
})
