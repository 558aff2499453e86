import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
