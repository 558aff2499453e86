import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { usageJobLock } from '../functions/store/usage/job-lock.js'
import { AGGREGATION_LEASE_MS, runAggregation } from '../functions/usage/aggregation.js'
import { CountingDb, CrashingDb } from './helpers/crashing-db.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import {
  aggregate,
  createServiceKey,
  createUsageApiKey,
  createUsageMember,
  sendEvents,
  usageEvent,
} from './helpers/usage.js'

let h: Harness
let svc: string
const HOUR = 3_600_000
const DAY = 24 * HOUR

beforeAll(async () => {
  h = await startHarness()
  svc = await createServiceKey(h)
})
afterAll(() => h.close())

const at = (offsetMs: number) => new Date(h.clock.now().getTime() + offsetMs).toISOString()

/** Every hourly and daily total of an organization, keyed by bucket and dimensions. */
async function snapshot(adminKey: string): Promise<Record<string, string>> {
  const totals: Record<string, string> = {}
  for (const width of ['1h', '1d']) {
    let page: string | undefined
    do {
      const query = new URLSearchParams({
        starting_at: at(-3 * DAY),
        bucket_width: width,
        group_by: 'workspace_id,model,product,api_key_id,member_id',
        limit: width === '1h' ? '168' : '31',
        ...(page ? { page } : {}),
      })
      const res = await h.call('GET', `/v1/usage?${query}`, { key: adminKey })
      expect(res.status).toBe(200)
      for (const bucket of res.body.data) {
        for (const r of bucket.results) {
          const key = [
            width,
            bucket.starting_at,
            r.workspace_id,
            r.model,
            r.product,
            r.api_key_id,
            r.member_id,
          ]
          totals[key.join(' ')] = `${r.input_tokens}/${r.output_tokens}/${r.requests}/${r.cost}`
        }
      }
      page = res.body.next_page ?? undefined
    } while (page)
  }
  return totals
}

async function seed(name: string) {
  const org = await createOrg(h, name)
  const ws = await h.call('POST', '/v1/workspaces', { key: org.adminKey, body: { name: 'Two' } })
  // Real ids: ingestion rejects keys and members the organization does not have.
  const keyA = await createUsageApiKey(h, org.adminKey, org.defaultWorkspaceId)
  const memB = await createUsageMember(h, org.adminKey)
  const events = Array.from({ length: 60 }, (_, i) =>
    usageEvent({
      id: `${name}-${i}`,
      organization_id: org.id,
      workspace_id: i % 2 ? org.defaultWorkspaceId : ws.body.id,
      timestamp: at(-(i % 5) * HOUR - (i % 3) * DAY),
      model: i % 4 ? 'claude-sonnet-4' : 'claude-haiku-4',
      product: i % 3 ? 'chat' : 'code',
      api_key_id: i % 2 ? keyA : null,
      member_id: i % 5 ? null : memB,
      input_tokens: 1000 + i,
      output_tokens: 10 * i,
    })
  )
  // Three requests, some events sent twice.
  await sendEvents(h, svc, events.slice(0, 30))
  await sendEvents(h, svc, events.slice(20, 50))
  await sendEvents(h, svc, events.slice(40))
  return { ...org, secondWorkspaceId: ws.body.id as string, keyA, memB }
}

/** A seeded organization's totals with its own ids replaced, to compare with another's. */
function normalized(totals: Record<string, string>, org: Awaited<ReturnType<typeof seed>>) {
  return JSON.stringify(totals)
    .replaceAll(org.defaultWorkspaceId, 'DEFAULT')
    .replaceAll(org.secondWorkspaceId, 'SECOND')
    .replaceAll(org.keyA, 'KEY_A')
    .replaceAll(org.memB, 'MEM_B')
}

describe('aggregation job', () => {
  it('is run by the operator only', async () => {
    const org = await createOrg(h, 'Auth')
    expect((await h.call('POST', '/v1/jobs/aggregate', { key: org.adminKey })).status).toBe(403)
    expect((await h.call('POST', '/v1/jobs/aggregate', { key: svc })).status).toBe(403)
    expect((await h.call('POST', '/v1/jobs/aggregate')).status).toBe(401)
  })

  it('counts every event once and changes nothing when run again', async () => {
    const org = await seed('twice')
    const first = await aggregate(h)
    expect(first).toMatchObject({ object: 'aggregation_run', status: 'completed' })
    expect(first.events_aggregated).toBe(60)
    const totals = await snapshot(org.adminKey)
    const second = await aggregate(h)
    expect(second.events_aggregated).toBe(0)
    expect(await snapshot(org.adminKey)).toEqual(totals)
    // The hourly and daily views agree: each counts 60 events.
    const requests = (width: string) =>
      Object.entries(totals)
        .filter(([key]) => key.startsWith(width))
        .reduce((sum, [, value]) => sum + Number(value.split('/')[2]), 0)
    expect(requests('1h ')).toBe(60)
    expect(requests('1d ')).toBe(60)
  })

  it('starts no round once its time budget is spent, leaving the events to the next run', async () => {
    const org = await seed('budget')
    const spent = await runAggregation({ db: h.db, clock: h.clock, runBudgetMs: 0 })
    expect(spent).toMatchObject({ status: 'completed', events_aggregated: 0 })
    const totals = await snapshot(org.adminKey)
    expect(Object.keys(totals)).toEqual([])
    const next = await runAggregation({ db: h.db, clock: h.clock })
    expect(next.events_aggregated).toBe(60)
  })

  it('yields the same totals when a run dies after any number of writes and is re-run', async () => {
    const reference = await seed('reference')
    await aggregate(h)
    const expected = await snapshot(reference.adminKey)
    // Where the run dies: early (markers), in the middle (totals), late (slot deletes,
    // budgets) — until the run survives because it needs fewer writes than allowed.
    let crashes = 0
    for (const writes of [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144]) {
      const org = await seed(`crash${writes}`)
      const crashing = new CrashingDb(h.db).crashAfter(writes)
      const survived = await runAggregation({ db: crashing, clock: h.clock }).then(
        () => true,
        () => false
      )
      if (!survived) {
        crashes++
        // The dead run still holds the lock: the next run must wait for its lease.
        const blocked = await h.call('POST', '/v1/jobs/aggregate', { key: h.operatorKey })
        expect(blocked.status).toBe(409)
        h.clock.advance(AGGREGATION_LEASE_MS + 1000)
        await aggregate(h)
        h.clock.advance(-(AGGREGATION_LEASE_MS + 1000))
      }
      expect(normalized(await snapshot(org.adminKey), org)).toBe(normalized(expected, reference))
      if (survived) break
    }
    expect(crashes).toBeGreaterThanOrEqual(8)
  })

  it('lets one of two simultaneous runs work and turns the other away', async () => {
    const org = await seed('concurrent')
    const [a, b] = await Promise.all([
      h.call('POST', '/v1/jobs/aggregate', { key: h.operatorKey }),
      h.call('POST', '/v1/jobs/aggregate', { key: h.operatorKey }),
    ])
    expect([a.status, b.status].sort()).toEqual([200, 409])
    expect((a.status === 409 ? a : b).body.error.type).toBe('conflict')
    const direct = await Promise.all([
      runAggregation({ db: h.db, clock: h.clock }),
      runAggregation({ db: h.db, clock: h.clock }),
    ])
    expect(direct.map((run) => run.status).sort()).toEqual(['completed', 'skipped'])
    const totals = await snapshot(org.adminKey)
    expect(Object.values(totals).length).toBeGreaterThan(0)
    const daily = Object.entries(totals).filter(([key]) => key.startsWith('1d '))
    expect(daily.reduce((sum, [, v]) => sum + Number(v.split('/')[2]), 0)).toBe(60)
  })

  it('takes over from a run that died holding the lock once its lease has passed', async () => {
    await usageJobLock.claim(h.db, 'run_dead', h.clock.now().getTime(), AGGREGATION_LEASE_MS)
    const during = await runAggregation({ db: h.db, clock: h.clock })
    expect(during.status).toBe('skipped')
    h.clock.advance(AGGREGATION_LEASE_MS + 1)
    const after = await runAggregation({ db: h.db, clock: h.clock })
    expect(after.status).toBe('completed')
    h.clock.advance(-(AGGREGATION_LEASE_MS + 1))
  })

  it('folds late events into their own hour and day', async () => {
    const org = await createOrg(h, 'Late')
    const lateAt = new Date(h.clock.now().getTime() - 20 * DAY - 5 * HOUR)
    await sendEvents(h, svc, [
      usageEvent({
        id: 'late-1',
        organization_id: org.id,
        workspace_id: org.defaultWorkspaceId,
        timestamp: lateAt.toISOString(),
        input_tokens: 7,
      }),
    ])
    await aggregate(h)
    const hourStart = new Date(lateAt.getTime() - (lateAt.getTime() % HOUR)).toISOString()
    const res = await h.call(
      'GET',
      `/v1/usage?starting_at=${hourStart}&ending_at=${new Date(Date.parse(hourStart) + 2 * HOUR).toISOString()}&bucket_width=1h`,
      { key: org.adminKey }
    )
    expect(res.body.data.map((b: { results: unknown[] }) => b.results.length)).toEqual([1, 0])
    expect(res.body.data[0].results[0]).toMatchObject({ input_tokens: 7, requests: 1 })
  })

  it('reads as much for a run with nothing new after 10 or 300 aggregated events', async () => {
    const counting = new CountingDb(h.db)
    const idleReads = async () => {
      await runAggregation({ db: h.db, clock: h.clock })
      counting.reset()
      await runAggregation({ db: counting, clock: h.clock })
      return counting.readCalls
    }
    const org = await createOrg(h, 'Idle')
    const send = (from: number, count: number) =>
      sendEvents(
        h,
        svc,
        Array.from({ length: count }, (_, i) =>
          usageEvent({
            id: `idle-${from + i}`,
            organization_id: org.id,
            workspace_id: org.defaultWorkspaceId,
            timestamp: at(-i * 60_000),
          })
        )
      )
    await send(0, 10)
    const small = await idleReads()
    await send(10, 290)
    const large = await idleReads()
    expect(large).toBe(small)
    // Reading the 32 journal shards, the lock and the (few) budgets: no event is read.
    expect(counting.itemsRead).toBeLessThan(20)
  })
})
