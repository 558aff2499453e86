import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Db } from '../functions/store/db.js'
import { rateWindows } from '../functions/store/rate-limits.js'
import { type RateLimitPlan, storeRateLimiter } from '../functions/usage/rate-limiter.js'
import { type Harness, startHarness } from './helpers/harness.js'

/**
 * A sharded window (a plan with several shards, as a very high organization limit gets) against
 * the embedded store: the shards together admit exactly the limit, a deny comes only when every
 * share is used up, and expired windows read as empty.
 */
let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(() => h.close())

const plan = (shards: number, rpm: number): RateLimitPlan => ({
  organizationId: 'org_shards',
  workspaceId: 'ws_shards',
  shards,
  entries: [
    {
      level: 'workspace',
      model: '*',
      requests_per_minute: rpm,
      tokens_per_minute: null,
      tokens_per_month: null,
    },
  ],
})

describe('a window over 4 shards', () => {
  it('admits exactly the limit from 120 parallel decisions, whatever shard each tries first', async () => {
    const limiter = storeRateLimiter(h.db)
    const now = new Date('2026-11-27T10:00:30.000Z')
    const consumption = {
      organizationId: 'org_shards',
      workspaceId: 'ws_shards',
      model: null,
      estimatedTokens: 0,
      now,
    }
    const hits = await Promise.all(
      Array.from({ length: 120 }, () => limiter.admit(plan(4, 30), consumption))
    )
    expect(hits.filter((hit) => hit === null)).toHaveLength(30)
    expect(hits.find((hit) => hit !== null)).toMatchObject({
      limit_type: 'requests_per_minute',
      limit: 30,
      remaining: 0,
      resets_at: '2026-11-27T10:01:00.000Z',
      retry_after_ms: 30_000,
    })
  })

  it('uses the other shards when the first one tried is used up', async () => {
    // Every decision tries shard 0 first: its share (3 of 10) runs out, the others take the rest.
    const limiter = storeRateLimiter(h.db, { pickShard: () => 0 })
    const now = new Date('2026-11-27T11:00:00.000Z')
    const consumption = {
      organizationId: 'org_shards',
      workspaceId: 'ws_shards',
      model: null,
      estimatedTokens: 0,
      now,
    }
    const hits = []
    for (let i = 0; i < 12; i++) hits.push(await limiter.admit(plan(4, 10), consumption))
    expect(hits.filter((hit) => hit === null)).toHaveLength(10)
  })

  it('reads an expired window item as empty (dynalite never deletes it)', async () => {
    await rateWindows.add(h.db, 'org_shards', 'm-old', 0, new Map([['req|x|*', 5]]), 1000)
    expect(await rateWindows.get(h.db, 'org_shards', 'm-old', 0, 999)).toEqual({ 'req|x|*': 5 })
    expect(await rateWindows.get(h.db, 'org_shards', 'm-old', 0, 1000)).toEqual({})
  })
})

class CountingDb extends Db {
  updates = 0
  override update(...args: Parameters<Db['update']>) {
    this.updates++
    return super.update(...args)
  }
}

describe('leases (shares of 10,000 and more)', () => {
  it('4 instances admit at most the limit, at least the limit less what they hold, with ~1 % of the store requests', async () => {
    const db = new CountingDb(h.db.doc, h.db.tableName)
    const instances = Array.from({ length: 4 }, () => storeRateLimiter(db))
    const limit = 20_000
    const big: RateLimitPlan = { ...plan(1, limit), organizationId: 'org_leases' }
    const consumption = {
      organizationId: 'org_leases',
      workspaceId: 'ws_shards',
      model: null,
      estimatedTokens: 0,
      now: new Date('2026-11-27T12:00:10.000Z'),
    }
    let admitted = 0
    let denied = 0
    for (let round = 0; round < 51; round++) {
      const hits = await Promise.all(
        Array.from({ length: 400 }, (_, i) => instances[i % 4]!.admit(big, consumption))
      )
      for (const hit of hits) {
        if (hit === null) admitted++
        else denied++
      }
    }
    expect(admitted + denied).toBe(20_400)
    expect(admitted).toBeLessThanOrEqual(limit)
    // Each instance claims one lease at a time, so it holds at most one (1 %, 200) unused when
    // the window is used up.
    expect(admitted).toBeGreaterThanOrEqual(limit - 4 * 200)
    // One claim per 200 admitted (plus the exact ones at the end and the denied ones' tries).
    expect(db.updates).toBeLessThan(20_400 / 20)
    const counters = await rateWindows.get(h.db, 'org_leases', 'm2026-11-27T12:00', 0, 0)
    expect(counters['req|ws_shards|*']).toBeLessThanOrEqual(limit)
  })
})

describe('leases for a minute and a month window together (the decision path drawing on both)', () => {
  it('admits at most the month limit, denies for it from then on, and stays at one claim per lease', async () => {
    const db = new CountingDb(h.db.doc, h.db.tableName)
    const limiter = storeRateLimiter(db)
    const monthLimit = 100_000
    const both: RateLimitPlan = {
      organizationId: 'org_both',
      workspaceId: 'ws_both',
      shards: 1,
      entries: [
        {
          level: 'workspace',
          model: '*',
          requests_per_minute: 1_000_000,
          tokens_per_minute: null,
          tokens_per_month: monthLimit,
        },
      ],
    }
    const consumption = {
      organizationId: 'org_both',
      workspaceId: 'ws_both',
      model: 'claude-sonnet-4',
      estimatedTokens: 10,
      now: new Date('2026-11-27T12:00:10.000Z'),
    }
    const outcomes: (string | null)[] = []
    let updatesWhileAdmitting = 0
    for (let i = 0; i < 12_000; i++) {
      const hit = await limiter.admit(both, consumption)
      if (hit && !outcomes.includes('tokens_per_month')) updatesWhileAdmitting = db.updates
      outcomes.push(hit?.limit_type ?? null)
    }
    const admitted = outcomes.filter((o) => o === null).length
    // 10 tokens each: the month admits at most 10,000; a lease of 1 % (1,000 tokens) may be held.
    expect(admitted).toBeLessThanOrEqual(monthLimit / 10)
    expect(admitted).toBeGreaterThanOrEqual(monthLimit / 10 - 100)
    // Once the month is used up every decision is denied for it, never admitted again.
    const firstDenied = outcomes.indexOf('tokens_per_month')
    expect(firstDenied).toBe(admitted)
    expect(outcomes.slice(firstDenied).every((o) => o === 'tokens_per_month')).toBe(true)
    // A denied decision gives its minute request back: the minute counter holds what the minute
    // leases claimed, never one per denied decision beyond them.
    const minute = await rateWindows.get(h.db, 'org_both', 'm2026-11-27T12:00', 0, 0)
    const month = await rateWindows.get(h.db, 'org_both', 'M2026-11', 0, 0)
    expect(month['est|ws_both|*']).toBeLessThanOrEqual(monthLimit)
    expect(minute['req|ws_both|*']).toBeLessThanOrEqual(admitted + 2 * 10_000)
    // Leases: the month's claims are 1,000 tokens (100 decisions) each, the minute's 10,000
    // requests: ≈ 100 claims (and the exact tries at the end) for 10,000 admitted decisions.
    expect(updatesWhileAdmitting).toBeGreaterThan(0)
    expect(updatesWhileAdmitting).toBeLessThan(10_000 / 20)
  })
})
