/**
 * The aggregation job's lease: a run that died is replaced within a minute (not after the old
 * 10-minute lease), a live run keeps its lease through long rounds, and a run that lost its
 * lease while paused never adds to a total twice when its writes land late.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Db, type Expression, type Item, type Key } from '../functions/store/db.js'
import { LeaseLostError } from '../functions/store/usage/job-lock.js'
import { AGGREGATION_LEASE_MS, runAggregation } from '../functions/usage/aggregation.js'
import { CrashingDb } from './helpers/crashing-db.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { aggregate, createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'

let h: Harness
let svc: string
const MINUTE = 60_000
const HOUR = 60 * MINUTE

beforeAll(async () => {
  h = await startHarness()
  svc = await createServiceKey(h)
})
afterAll(() => h.close())

const at = (offsetMs: number) => new Date(h.clock.now().getTime() + offsetMs).toISOString()

/** Each update of a usage total first runs `before` (which may wait or move the clock). */
class TotalsHookDb extends Db {
  constructor(
    db: Db,
    private readonly before: (key: Key) => Promise<void>
  ) {
    super(db.doc, db.tableName)
  }

  override async update(...args: Parameters<Db['update']>): Promise<Item | undefined> {
    if (args[0].PK.startsWith('USAGE#')) await this.before(args[0])
    return super.update(...args)
  }
}

/** Daily requests and token totals of an organization, and its month's budget spend. */
async function totals(org: { adminKey: string }) {
  const query = new URLSearchParams({
    starting_at: at(-6 * 24 * HOUR),
    bucket_width: '1d',
    limit: '31',
  })
  const usage = await h.call('GET', `/v1/usage?${query}`, { key: org.adminKey })
  expect(usage.status).toBe(200)
  let requests = 0
  let inputTokens = 0
  for (const bucket of usage.body.data) {
    for (const r of bucket.results) {
      requests += r.requests
      inputTokens += r.input_tokens
    }
  }
  const budgets = await h.call('GET', '/v1/budgets', { key: org.adminKey })
  expect(budgets.status).toBe(200)
  const spend = budgets.body.data.map((b: { spend: string }) => b.spend)
  return { requests, inputTokens, spend }
}

function events(org: { id: string; defaultWorkspaceId: string }, prefix: string, count: number) {
  return Array.from({ length: count }, (_, i) =>
    usageEvent({
      id: `${prefix}-${i}`,
      organization_id: org.id,
      workspace_id: org.defaultWorkspaceId,
      // All in one hour: every round adds to the same hour, day and month totals.
      timestamp: at(-30 * MINUTE),
      input_tokens: 1000,
    })
  )
}

describe('aggregation lease', () => {
  it('is short: a dead run is replaced within 60 s, and a 409 says when to retry', async () => {
    expect(AGGREGATION_LEASE_MS).toBeLessThanOrEqual(30_000)
    for (const writes of [1, 4, 9]) {
      const org = await createOrg(h, `Crash ${writes}`)
      await sendEvents(h, svc, events(org, `crash${writes}`, 40))
      const crashing = new CrashingDb(h.db).crashAfter(writes)
      await expect(runAggregation({ db: crashing, clock: h.clock })).rejects.toThrow(
        'simulated crash'
      )
      const diedAt = h.clock.now().getTime()
      let retries = 0
      for (;;) {
        const res = await h.call('POST', '/v1/jobs/aggregate', { key: h.operatorKey })
        if (res.status === 200) {
          expect(res.body.status).toBe('completed')
          break
        }
        expect(res.status).toBe(409)
        expect(res.body.error.type).toBe('conflict')
        const retryAfter = Number(res.headers.get('retry-after'))
        expect(Number.isInteger(retryAfter)).toBe(true)
        expect(retryAfter).toBeGreaterThanOrEqual(1)
        expect(retryAfter).toBeLessThanOrEqual(AGGREGATION_LEASE_MS / 1000 + 1)
        h.clock.advance(retryAfter * 1000)
        retries++
      }
      expect(retries).toBe(1)
      expect(h.clock.now().getTime() - diedAt).toBeLessThanOrEqual(60_000)
      expect(await totals(org)).toMatchObject({ requests: 40, inputTokens: 40_000 })
    }
  })

  it('keeps a live run its lease through a round longer than the lease', async () => {
    const org = await createOrg(h, 'Long round')
    // 100 events in 100 hours: some 107 totals to add, each taking a second of clock time.
    await sendEvents(
      h,
      svc,
      Array.from({ length: 100 }, (_, i) =>
        usageEvent({
          id: `long-${i}`,
          organization_id: org.id,
          workspace_id: org.defaultWorkspaceId,
          timestamp: at(-(i + 1) * HOUR),
          input_tokens: 10,
        })
      )
    )
    const start = h.clock.now().getTime()
    let contender: Promise<string> | undefined
    const slow = new TotalsHookDb(h.db, async () => {
      h.clock.advance(1000)
      // Well past the first lease: another run must still find the lock held.
      if (!contender && h.clock.now().getTime() - start > AGGREGATION_LEASE_MS + 10_000) {
        contender = runAggregation({ db: h.db, clock: h.clock }).then((other) => other.status)
        await contender
      }
    })
    const run = await runAggregation({ db: slow, clock: h.clock })
    expect(h.clock.now().getTime() - start).toBeGreaterThan(2 * AGGREGATION_LEASE_MS)
    expect(run).toMatchObject({ status: 'completed', events_aggregated: 100 })
    expect(await contender).toBe('skipped')
    expect(await totals(org)).toMatchObject({ requests: 100, inputTokens: 1000 })
  })

  it('stops writing once it cannot renew its lease, and the next run finishes exactly', async () => {
    const org = await createOrg(h, 'Unrenewable')
    await sendEvents(
      h,
      svc,
      Array.from({ length: 100 }, (_, i) =>
        usageEvent({
          id: `unrenewable-${i}`,
          organization_id: org.id,
          workspace_id: org.defaultWorkspaceId,
          timestamp: at(-(i + 1) * HOUR),
          input_tokens: 10,
        })
      )
    )
    const start = h.clock.now().getTime()
    let totalsWritten = 0
    let lateWrites = 0
    // Every total takes a second; the lock can be taken but its lease never renewed.
    class Unrenewable extends TotalsHookDb {
      override async update(key: Key, update: Expression, ...rest: [Expression?, boolean?]) {
        if (key.PK === 'USAGE_JOB' && update.expression.startsWith('SET lease_until')) {
          throw new Error('lock unavailable')
        }
        return super.update(key, update, ...rest)
      }
    }
    const db = new Unrenewable(h.db, async () => {
      totalsWritten++
      // Past the lease a replacement may be writing: nothing of this run may start then.
      if (h.clock.now().getTime() >= start + AGGREGATION_LEASE_MS) lateWrites++
      h.clock.advance(1000)
    })
    await expect(runAggregation({ db, clock: h.clock })).rejects.toBeInstanceOf(LeaseLostError)
    expect(totalsWritten).toBeGreaterThan(0)
    expect(totalsWritten).toBeLessThan(107)
    expect(lateWrites).toBe(0)
    h.clock.advance(AGGREGATION_LEASE_MS)
    expect(await aggregate(h)).toMatchObject({ status: 'completed', events_aggregated: 100 })
    expect(await totals(org)).toMatchObject({ requests: 100, inputTokens: 1000 })
  })

  it('never counts twice when a paused run whose lease was taken over writes late', async () => {
    const org = await createOrg(h, 'Paused')
    await sendEvents(h, svc, events(org, 'paused-a', 3))
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let paused: () => void = () => {}
    const reachedPause = new Promise<void>((resolve) => {
      paused = resolve
    })
    // Run A has passed its lease check and sent its total updates; they reach the store late.
    const pausing = new TotalsHookDb(h.db, async () => {
      paused()
      await gate
    })
    const runA = runAggregation({ db: pausing, clock: h.clock })
    const outcomeA = runA.then(
      () => 'completed',
      (error) => error
    )
    await reachedPause

    // A is silent past its lease: B takes over, finishes A's round, and counts newer events
    // into the same hour, day and month totals.
    h.clock.advance(AGGREGATION_LEASE_MS + 1000)
    await sendEvents(h, svc, events(org, 'paused-b', 2))
    const runB = await aggregate(h)
    expect(runB.status).toBe('completed')
    expect(runB.rounds).toBe(2)
    expect(await totals(org)).toMatchObject({ requests: 5, inputTokens: 5000 })

    // A wakes up: its late additions are refused, and it stops at its next write.
    release()
    expect(await outcomeA).toBeInstanceOf(LeaseLostError)
    expect(await totals(org)).toMatchObject({ requests: 5, inputTokens: 5000 })
    const again = await aggregate(h)
    expect(again.events_aggregated).toBe(0)
    expect(await totals(org)).toMatchObject({ requests: 5, inputTokens: 5000 })
  })
})
