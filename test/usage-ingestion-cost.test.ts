/**
 * What one ingestion request costs in store requests (issue 12: ingestion over HTTP close to a
 * bare BatchWriteItem of the same items), with every figure and check unchanged:
 * - live spend is one UpdateItem per organization, month and live-spend shard, however many
 *   workspaces the batch names, and every workspace's figure is still its own; late events of an
 *   earlier month (a figure no one reads any more) cost none;
 * - a warm batch reads its organizations' facts from the cache at their revision (read in the
 *   duplicate check's BatchGetItem), and a change committed through another instance is seen by
 *   the very next batch; a rejection a cached price would make is read again first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../functions/app/app.js'
import { Db } from '../functions/store/db.js'
import { keys } from '../functions/store/keys.js'
import { LIVE_SPEND_SHARDS } from '../functions/store/usage/live-spend.js'
import { CountingDb } from './helpers/crashing-db.js'
import { FaultyDb } from './helpers/faults.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { aggregate, createServiceKey, usageEvent } from './helpers/usage.js'

let h: Harness
let faulty: FaultyDb
let svc: string
let n = 0

beforeAll(async () => {
  h = await startHarness({
    makeDb: (doc, table) => {
      faulty = new FaultyDb(doc, table)
      return faulty
    },
  })
  svc = await createServiceKey(h)
})
afterAll(() => h.close())

async function created(path: string, key: string, body: unknown) {
  const res = await h.call('POST', path, { key, body })
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${res.text}`)
  return res.body.id as string
}

/** Another API instance over the same table (its own caches), counting its store calls. */
function instance() {
  const db = new CountingDb(new Db(h.db.doc, h.db.tableName))
  const app = createApp({ db, clock: h.clock, operatorKey: h.operatorKey })
  const ingest = async (events: unknown[]) => {
    db.reset()
    const res = await app.request('/v1/usage/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${svc}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    })
    expect(res.status).toBe(200)
    return (await res.json()) as {
      accepted: number
      duplicates: number
      rejected: { index: number; error: { code: string } }[]
    }
  }
  return { db, ingest }
}

const now = () => h.clock.now().toISOString()

describe('live spend', () => {
  it('is one UpdateItem per shard for a batch over 30 workspaces, each workspace its own figure', async () => {
    const org = await createOrg(h, 'Many workspaces')
    const workspaces = [org.defaultWorkspaceId]
    while (workspaces.length < 30) {
      workspaces.push(await created('/v1/workspaces', org.adminKey, { name: `ws ${n++}` }))
    }
    // Workspace i: i + 1 events of 1,000 input tokens of claude-sonnet-4 (0.003000 each).
    const events = workspaces.flatMap((ws, i) =>
      Array.from({ length: i + 1 }, (_, k) =>
        usageEvent({
          id: `cost-${i}-${k}`,
          organization_id: org.id,
          workspace_id: ws,
          timestamp: now(),
          input_tokens: 1000,
        })
      )
    )
    expect(events.length).toBe(465)
    const { db, ingest } = instance()
    expect(await ingest(events)).toMatchObject({ accepted: 465, rejected: [] })
    // One journal slot, 19 BatchWriteItem calls of raw events (25 items each), live spend.
    expect(db.writeCalls).toBeLessThanOrEqual(1 + 19 + LIVE_SPEND_SHARDS)

    const res = await h.call('GET', '/v1/budgets?limit=100', { key: org.adminKey })
    expect(res.status, res.text).toBe(200)
    const live = new Map<string | null, string>(
      res.body.data.map((b: { workspace_id: string | null; live_spend: string }) => [
        b.workspace_id,
        b.live_spend,
      ])
    )
    workspaces.forEach((ws, i) => {
      expect(live.get(ws), ws).toBe((0.003 * (i + 1)).toFixed(6))
    })
    expect(live.get(null)).toBe((0.003 * 465).toFixed(6))
  })

  it("writes no live figure for an earlier month's late events, which are aggregated as usual", async () => {
    const org = await createOrg(h, 'Late events')
    const at = h.clock.now()
    const month = at.toISOString().slice(0, 7)
    // An hour before this month began: within the 35 days ingestion accepts.
    const late = new Date(Date.parse(`${month}-01T00:00:00Z`) - 3_600_000)
    const lastMonth = late.toISOString().slice(0, 7)
    const event = (id: string, timestamp: string) =>
      usageEvent({
        id,
        organization_id: org.id,
        workspace_id: org.defaultWorkspaceId,
        timestamp,
        input_tokens: 1000,
      })
    const { ingest } = instance()
    const result = await ingest([
      event('now-1', at.toISOString()),
      event('late-1', late.toISOString()),
      event('late-2', late.toISOString()),
    ])
    expect(result).toMatchObject({ accepted: 3, rejected: [] })
    const items = async (m: string) =>
      (
        await Promise.all(
          Array.from({ length: LIVE_SPEND_SHARDS }, (_, shard) =>
            h.db.get(keys.usageLiveSpend(org.id, m, shard))
          )
        )
      ).filter(Boolean)
    expect(await items(lastMonth)).toEqual([])
    expect((await items(month)).length).toBeGreaterThan(0)
    const budgets = await h.call('GET', '/v1/budgets', { key: org.adminKey })
    const orgBudget = budgets.body.data.find(
      (b: { workspace_id: string | null }) => !b.workspace_id
    )
    expect(orgBudget.live_spend).toBe('0.003000')

    await aggregate(h)
    const usage = await h.call(
      'GET',
      `/v1/usage?starting_at=${late.toISOString().slice(0, 10)}T00:00:00Z&bucket_width=1d&limit=31`,
      { key: org.adminKey }
    )
    expect(usage.status, usage.text).toBe(200)
    const byDay = new Map<string, number>(
      usage.body.data.map((bucket: { starting_at: string; results: { requests: number }[] }) => [
        bucket.starting_at.slice(0, 10),
        bucket.results.reduce((sum, r) => sum + r.requests, 0),
      ])
    )
    expect(byDay.get(late.toISOString().slice(0, 10))).toBe(2)
    expect(byDay.get(at.toISOString().slice(0, 10))).toBe(1)
  })
})

describe('ingestion facts', () => {
  async function world(name: string) {
    const org = await createOrg(h, name)
    // The events' workspace is not the default one, which cannot be archived.
    const ws = await created('/v1/workspaces', org.adminKey, { name: 'Main' })
    const other = org.defaultWorkspaceId
    const key = await created('/v1/api-keys', org.adminKey, { name: 'k', workspace_id: ws })
    const member = await created('/v1/members', org.adminKey, {
      email: `facts-${n++}@example.com`,
      name: 'M',
    })
    const event = (id: string, extra: Record<string, unknown> = {}) =>
      usageEvent({
        id,
        organization_id: org.id,
        workspace_id: ws,
        api_key_id: key,
        member_id: member,
        timestamp: now(),
        input_tokens: 1000,
        ...extra,
      })
    return { ...org, ws, other, key, member, event }
  }

  it('reads nothing but the ids and revisions for a batch whose facts are cached', async () => {
    const w = await world('Warm facts')
    const { db, ingest } = instance()
    const batch = (prefix: string) =>
      Array.from({ length: 50 }, (_, i) =>
        w.event(`${prefix}-${i}`, { workspace_id: i % 2 ? w.ws : w.other, api_key_id: null })
      )
    // The duplicate check reads the copies of the ids (range queries of the organization's copy
    // partitions); beside it, one BatchGetItem of the revision. Anything else read is a fact.
    const revision = `ORG#${w.id}|REV`
    const isCheck = (call: string[]) =>
      (call.length === 1 && call[0]!.startsWith(`UEVC#${w.id}#`)) ||
      (call.length === 1 && call[0] === revision)
    const factReads = () =>
      db.reads.filter((call) => !isCheck(call) && call[0] !== 'USAGE_LAYOUT|COPIES')
    expect((await ingest(batch('cold'))).accepted).toBe(50)
    const cold = factReads()
    expect((await ingest(batch('warm'))).accepted).toBe(50)
    // The organization, prices, workspaces, member, spend limits and rate limits were read
    // once, by the cold batch (in one BatchGetItem more); the warm one reads only the check.
    expect(db.reads.filter(isCheck).length).toBe(db.readCalls)
    expect(db.reads).toContainEqual([revision])
    expect(cold).toHaveLength(1)
  })

  it('sees at once a change another instance committed: an archived workspace, a removed member, a new price, a spend limit', async () => {
    const w = await world('Fresh facts')
    const { ingest } = instance()
    const before = [
      w.event('before-1'),
      w.event('before-2', { workspace_id: w.other, api_key_id: null }),
    ]
    expect((await ingest(before)).accepted).toBe(2)

    const archive = await h.call('POST', `/v1/workspaces/${w.ws}/archive`, { key: w.adminKey })
    expect(archive.status, archive.text).toBe(200)
    const removed = await h.call('DELETE', `/v1/members/${w.member}`, { key: w.adminKey })
    expect(removed.status, removed.text).toBe(200)
    const prices = await h.call('PUT', '/v1/prices', {
      key: w.adminKey,
      body: {
        prices: [
          {
            model: 'fresh-model',
            input_per_million: '1.000000',
            output_per_million: '1.000000',
            per_request: null,
            effective_from: '2026-01-01T00:00:00Z',
          },
        ],
      },
    })
    expect(prices.status, prices.text).toBe(200)
    const limit = await h.call('PUT', `/v1/workspaces/${w.other}/spend-limit`, {
      key: w.adminKey,
      body: { monthly_limit: '0.004' },
    })
    expect(limit.status, limit.text).toBe(200)

    const after = await ingest([
      w.event('after-archived', { api_key_id: null, member_id: null }),
      w.event('after-removed', { workspace_id: w.other, api_key_id: null }),
      w.event('after-priced', {
        workspace_id: w.other,
        api_key_id: null,
        member_id: null,
        model: 'fresh-model',
      }),
    ])
    expect(after.rejected.map((r) => [r.index, r.error.code])).toEqual([
      [0, 'workspace_archived'],
      [1, 'unknown_member'],
    ])
    expect(after.accepted).toBe(1)
    // 0.003000 before the limit, then 0.001000 (1,000 tokens at 1.000000 per million) reach it.
    const budgets = await h.call('GET', '/v1/budgets?limit=100', { key: w.adminKey })
    const budget = budgets.body.data.find(
      (b: { workspace_id: string | null }) => b.workspace_id === w.other
    )
    expect([budget.live_spend, budget.suspended]).toEqual(['0.004000', true])
  })

  it('reads the prices again before rejecting an event on cached ones', async () => {
    const w = await world('Cached prices')
    const { ingest } = instance()
    expect((await ingest([w.event('cached-1')])).accepted).toBe(1)
    // A price saved whose revision bump then failed (a crash between the two): the revision the
    // warm instance compares with did not move.
    faulty.arm({ op: 'update', sk: /^REV$/ })
    const prices = await h.call('PUT', '/v1/prices', {
      key: w.adminKey,
      body: {
        prices: [
          {
            model: 'late-model',
            input_per_million: '1.000000',
            output_per_million: '1.000000',
            per_request: null,
            effective_from: '2026-01-01T00:00:00Z',
          },
        ],
      },
    })
    expect(prices.status).toBe(500)
    expect(faulty.pending()).toBe(0)
    const res = await ingest([w.event('cached-2', { model: 'late-model' })])
    expect(res).toMatchObject({ accepted: 1, rejected: [] })
  })
})
