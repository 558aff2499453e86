/**
 * Property: whatever stream of events arrives — duplicates, retries (also concurrent ones and
 * ones after a crashed request), late and out-of-window events — and however aggregation runs
 * are interleaved (sequential, concurrent, crashed half-way), the reports and budget states
 * equal an independent recomputation from the accepted events.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createApp } from '../functions/app/app.js'
import { AGGREGATION_LEASE_MS, runAggregation } from '../functions/usage/aggregation.js'
import { budgetSuspension } from './helpers/budget-suspension.js'
import { CrashingDb } from './helpers/crashing-db.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey, createUsageApiKey, createUsageMember } from './helpers/usage.js'

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE

// ----- The independent model ------------------------------------------------------------

/** Prices per million tokens and per request, in micro-units, as the test knows them. */
const LIST_PRICES: Record<string, { input: bigint; output: bigint; request: bigint }> = {
  'claude-sonnet-4': { input: 3_000_000n, output: 15_000_000n, request: 0n },
  'claude-haiku-4': { input: 1_000_000n, output: 5_000_000n, request: 0n },
  'web-search': { input: 0n, output: 0n, request: 10_000n },
}
/** Each run's organization pays its own haiku price from 3 days before the run started. */
const OWN_HAIKU = { input: 2_000_000n, output: 8_000_000n, request: 1_000n }

interface Spec {
  ws: number // 0..2 = the org's workspaces, 3 = unknown
  offsetMinutes: number
  model: string
  product: string
  api_key_id: string | null
  member_id: string | null
  input_tokens: number
  output_tokens: number
  requests: number
  malformed: boolean
}

interface ModelEvent {
  id: string
  ws: number
  timestamp: number
  dims: string[] // workspace, model, product, api key, member
  input: number
  output: number
  requests: number
  cost: bigint
}

function costOf(spec: Spec, timestamp: number, ownFrom: number): bigint {
  const price =
    spec.model === 'claude-haiku-4' && timestamp >= ownFrom ? OWN_HAIKU : LIST_PRICES[spec.model]!
  const tokens = BigInt(spec.input_tokens) * price.input + BigInt(spec.output_tokens) * price.output
  return (tokens + 500_000n) / 1_000_000n + BigInt(spec.requests) * price.request
}

function money(micros: bigint): string {
  const whole = micros / 1_000_000n
  const fraction = (micros % 1_000_000n).toString().padStart(6, '0')
  return `${whole}.${fraction}`
}

interface IngestBody {
  accepted: number
  duplicates: number
  rejected: { index: number; error: { code: string } }[]
}

// ----- Arbitraries ------------------------------------------------------------------------

const specArb: fc.Arbitrary<Spec> = fc.record({
  ws: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 2 }) }, fc.constant(3)),
  offsetMinutes: fc.oneof(
    { weight: 5, arbitrary: fc.integer({ min: -180, max: 4 }) }, // recent
    { weight: 3, arbitrary: fc.integer({ min: -35 * 1440 + 60, max: -1440 }) }, // late
    fc.integer({ min: -45 * 1440, max: -35 * 1440 - 1 }), // too old
    fc.integer({ min: 6, max: 600 }) // too far ahead
  ),
  model: fc.constantFrom('claude-sonnet-4', 'claude-haiku-4', 'web-search', 'mystery-model'),
  product: fc.constantFrom('chat', 'code'),
  api_key_id: fc.option(fc.constantFrom('key_a', 'key_b'), { nil: null }),
  member_id: fc.option(fc.constant('mem_a'), { nil: null }),
  input_tokens: fc.integer({ min: 0, max: 2_000_000 }),
  output_tokens: fc.integer({ min: 0, max: 300_000 }),
  requests: fc.integer({ min: 1, max: 3 }),
  malformed: fc.boolean().map((b) => b && Math.random() < 0.15),
})

const POOL = 10
const picks = fc.array(fc.nat(POOL - 1), { minLength: 1, maxLength: 8 })

type Action =
  | { kind: 'send'; picks: number[] }
  | { kind: 'sendConcurrently'; picks: number[] }
  | { kind: 'sendCrashThenRetry'; picks: number[]; writes: number; aggregateFirst: boolean }
  | { kind: 'aggregate' }
  | { kind: 'aggregateConcurrently' }
  | { kind: 'aggregateCrash'; writes: number }
  | { kind: 'advance'; minutes: number }
  | { kind: 'limit'; scope: number; dollars: number | null; hard: boolean; thresholds: number[] }

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('send' as const), picks }) },
  fc.record({ kind: fc.constant('sendConcurrently' as const), picks }),
  // A request dies half-way and the client retries — at once, or only after an aggregation run
  // counted what the failed request journalled.
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('sendCrashThenRetry' as const),
      picks,
      writes: fc.integer({ min: 0, max: 3 }),
      aggregateFirst: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('aggregate' as const) }) },
  fc.record({ kind: fc.constant('aggregateConcurrently' as const) }),
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('aggregateCrash' as const),
      writes: fc.integer({ min: 0, max: 40 }),
    }),
  },
  fc.record({ kind: fc.constant('advance' as const), minutes: fc.integer({ min: 1, max: 4000 }) }),
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('limit' as const),
      scope: fc.integer({ min: 0, max: 3 }),
      dollars: fc.option(fc.integer({ min: 1, max: 8 }), { nil: null, freq: 6 }),
      hard: fc.boolean(),
      thresholds: fc.subarray([25, 50, 80, 100, 150], { minLength: 1 }),
    }),
  }
)

// ----- The test ---------------------------------------------------------------------------

let h: Harness
let svc: string
let runNumber = 0

beforeAll(async () => {
  h = await startHarness()
  h.clock.set('2026-11-20T08:00:00.000Z')
  svc = await createServiceKey(h)
})
afterAll(() => h.close())

it('reports and budgets always equal a recomputation from the accepted events', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(specArb, { minLength: POOL, maxLength: POOL }),
      fc.array(actionArb, { minLength: 3, maxLength: 12 }),
      async (pool, actions) => {
        await runScenario(pool, actions)
      }
    ),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 25), endOnFailure: true }
  )
}, 240_000)

async function runScenario(pool: Spec[], actions: Action[]) {
  runNumber++
  const org = await createOrg(h, `Prop ${runNumber}`)
  const workspaceIds = [org.defaultWorkspaceId]
  for (const name of ['Two', 'Three']) {
    const res = await h.call('POST', '/v1/workspaces', { key: org.adminKey, body: { name } })
    workspaceIds.push(res.body.id)
  }
  // The spec's key and member names stand for real ones (ingestion rejects unknown ids, and
  // keys of another workspace): key_a and key_b exist in each workspace.
  const realKeys = new Map<string, string>()
  for (const [ws, workspaceId] of workspaceIds.entries()) {
    for (const name of ['key_a', 'key_b']) {
      realKeys.set(`${ws}/${name}`, await createUsageApiKey(h, org.adminKey, workspaceId))
    }
  }
  const realMember = await createUsageMember(h, org.adminKey)
  const apiKeyOf = (spec: Spec) =>
    spec.api_key_id === null
      ? null
      : (realKeys.get(`${spec.ws}/${spec.api_key_id}`) ?? spec.api_key_id)
  const memberOf = (spec: Spec) => (spec.member_id === null ? null : realMember)
  const base = h.clock.now().getTime()
  const ownFrom = base - 3 * DAY
  const prices = await h.call('PUT', '/v1/prices', {
    key: org.adminKey,
    body: {
      prices: [
        {
          model: 'claude-haiku-4',
          input_per_million: '2',
          output_per_million: '8',
          per_request: '0.001',
          effective_from: new Date(ownFrom).toISOString(),
        },
      ],
    },
  })
  expect(prices.status).toBe(200)

  const accepted = new Map<string, ModelEvent>()
  const limits: ({ micros: bigint; hard: boolean; thresholds: number[] } | null)[] = [
    null,
    null,
    null,
    null,
  ]

  const wire = (i: number) => {
    const spec = pool[i]!
    return {
      id: `p${runNumber}-${i}`,
      organization_id: org.id,
      workspace_id: spec.ws < 3 ? workspaceIds[spec.ws] : 'ws_unknown',
      timestamp: new Date(base + spec.offsetMinutes * MINUTE).toISOString(),
      product: spec.product,
      model: spec.model,
      api_key_id: apiKeyOf(spec),
      member_id: memberOf(spec),
      input_tokens: spec.malformed ? -5 : spec.input_tokens,
      output_tokens: spec.output_tokens,
      requests: spec.requests,
    }
  }

  /** What ingestion must answer for a batch now, and what it adds to the accepted set. */
  const predict = (batch: number[]) => {
    const now = h.clock.now().getTime()
    const rejected: [number, string][] = []
    const fresh: ModelEvent[] = []
    let duplicates = 0
    const inBatch = new Set<string>()
    for (const [index, i] of batch.entries()) {
      const spec = pool[i]!
      const id = `p${runNumber}-${i}`
      const timestamp = base + spec.offsetMinutes * MINUTE
      const reason = spec.malformed
        ? 'invalid_event'
        : spec.ws === 3
          ? 'unknown_workspace'
          : timestamp < now - 35 * DAY
            ? 'timestamp_too_old'
            : timestamp > now + 5 * MINUTE
              ? 'timestamp_in_future'
              : LIST_PRICES[spec.model]
                ? undefined
                : 'unknown_model'
      if (reason) {
        rejected.push([index, reason])
      } else if (accepted.has(id) || inBatch.has(id)) {
        duplicates++
      } else {
        inBatch.add(id)
        fresh.push({
          id,
          ws: spec.ws,
          timestamp,
          dims: [
            workspaceIds[spec.ws]!,
            spec.model,
            spec.product,
            apiKeyOf(spec) ?? '',
            memberOf(spec) ?? '',
          ],
          input: spec.input_tokens,
          output: spec.output_tokens,
          requests: spec.requests,
          cost: costOf(spec, timestamp, ownFrom),
        })
      }
    }
    return { rejected, fresh, duplicates }
  }

  const send = (app: { request: typeof h.app.request }, batch: number[]) =>
    app.request('/v1/usage/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${svc}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: batch.map(wire) }),
    })
  const codes = (body: IngestBody) => body.rejected.map((r) => [r.index, r.error.code])

  for (const action of actions) {
    switch (action.kind) {
      case 'send': {
        const expected = predict(action.picks)
        const res = await send(h.app, action.picks)
        const body = (await res.json()) as IngestBody
        expect(res.status).toBe(200)
        expect(codes(body)).toEqual(expected.rejected)
        expect([body.accepted, body.duplicates]).toEqual([
          expected.fresh.length,
          expected.duplicates,
        ])
        for (const event of expected.fresh) accepted.set(event.id, event)
        break
      }
      case 'sendConcurrently': {
        const expected = predict(action.picks)
        const bodies = await Promise.all([
          send(h.app, action.picks),
          send(h.app, action.picks),
        ]).then((responses) =>
          Promise.all(responses.map(async (r) => (await r.json()) as IngestBody))
        )
        for (const body of bodies) {
          expect(codes(body)).toEqual(expected.rejected)
          expect(body.accepted + body.duplicates).toBe(expected.fresh.length + expected.duplicates)
        }
        for (const event of expected.fresh) accepted.set(event.id, event)
        break
      }
      case 'sendCrashThenRetry': {
        const expected = predict(action.picks)
        const crashing = new CrashingDb(h.db).crashAfter(action.writes)
        const dying = createApp({ db: crashing, clock: h.clock, operatorKey: h.operatorKey })
        const first = await send(dying, action.picks)
        expect(first.status).toBe(crashing.crashed ? 500 : 200)
        if (action.aggregateFirst) {
          const run = await h.call('POST', '/v1/jobs/aggregate', { key: h.operatorKey })
          expect(run.status).toBe(200)
        }
        const retry = await send(h.app, action.picks)
        const body = (await retry.json()) as IngestBody
        expect(codes(body)).toEqual(expected.rejected)
        expect(body.accepted + body.duplicates).toBe(expected.fresh.length + expected.duplicates)
        for (const event of expected.fresh) accepted.set(event.id, event)
        break
      }
      case 'aggregate': {
        const res = await h.call('POST', '/v1/jobs/aggregate', { key: h.operatorKey })
        expect(res.status).toBe(200)
        await checkMonthlyTotals()
        break
      }
      case 'aggregateConcurrently': {
        const statuses = await Promise.all([
          h.call('POST', '/v1/jobs/aggregate', { key: h.operatorKey }),
          h.call('POST', '/v1/jobs/aggregate', { key: h.operatorKey }),
        ]).then((responses) => responses.map((r) => r.status).sort())
        expect(statuses[0]).toBe(200)
        expect([200, 409]).toContain(statuses[1])
        await checkMonthlyTotals()
        break
      }
      case 'aggregateCrash': {
        const crashing = new CrashingDb(h.db).crashAfter(action.writes)
        const survived = await runAggregation({ db: crashing, clock: h.clock }).then(
          () => true,
          () => false
        )
        // A dead run keeps the lock until its lease ends; time moves on past it.
        if (!survived) h.clock.advance(AGGREGATION_LEASE_MS + MINUTE)
        break
      }
      case 'advance':
        h.clock.advance(action.minutes * MINUTE)
        break
      case 'limit': {
        const path =
          action.scope === 0
            ? '/v1/spend-limit'
            : `/v1/workspaces/${workspaceIds[action.scope - 1]}/spend-limit`
        const micros = action.dollars === null ? null : BigInt(action.dollars) * 1_000_000n
        const organizationLimit = limits[0]?.micros ?? null
        const workspaceLimits = limits.slice(1).map((limit) => limit?.micros ?? null)
        const violates =
          micros !== null &&
          (action.scope === 0
            ? workspaceLimits.some((w) => w !== null && w > micros)
            : organizationLimit !== null && micros > organizationLimit)
        const res = await h.call('PUT', path, {
          key: org.adminKey,
          body: {
            monthly_limit: action.dollars === null ? null : `${action.dollars}.00`,
            enforcement: action.hard ? 'hard' : 'soft',
            alert_thresholds_percent: action.thresholds,
          },
        })
        expect(res.status).toBe(violates ? 400 : 200)
        if (!violates) {
          limits[action.scope] =
            micros === null ? null : { micros, hard: action.hard, thresholds: action.thresholds }
        }
        break
      }
    }
  }

  // A last, normal run; then everything must match the model exactly.
  const final = await h.call('POST', '/v1/jobs/aggregate', { key: h.operatorKey })
  expect(final.status).toBe(200)
  await checkReports()
  await checkBudgets()

  /** After a completed run: month totals per workspace and dimension equal the model. */
  async function checkMonthlyTotals() {
    const actual = await report('1mo', 24)
    expect(actual).toEqual(expectedTotals('1mo'))
  }

  async function checkReports() {
    expect(await report('1d', 31)).toEqual(expectedTotals('1d'))
    expect(await report('1h', 168)).toEqual(expectedTotals('1h'))
    // Costs, grouped by workspace, in months; CSV has the same numbers.
    const costs = await h.call(
      'GET',
      `/v1/costs?starting_at=${new Date(base - 46 * DAY).toISOString()}&bucket_width=1mo&group_by=workspace_id&format=csv`,
      { key: org.adminKey }
    )
    const rows = costs.text.trim().split('\r\n').slice(1)
    const expected = new Map<string, bigint>()
    for (const event of accepted.values()) {
      const key = `${monthStart(event.timestamp)},${event.dims[0]}`
      expected.set(key, (expected.get(key) ?? 0n) + event.cost)
    }
    expect(
      Object.fromEntries(
        rows.map((row) => {
          // CSV times are whole seconds; workspace_name sits beside the id.
          const [start, , ws, , cost] = row.split(',')
          return [`${new Date(start!).toISOString()},${ws}`, cost]
        })
      )
    ).toEqual(Object.fromEntries([...expected].map(([key, cost]) => [key, money(cost)])))
  }

  /** Every non-empty bucket × dimensions of a report (all pages), as "in/out/requests/cost". */
  async function report(width: '1h' | '1d' | '1mo', limit: number) {
    const totals: Record<string, string> = {}
    let page: string | null = null
    do {
      const query = new URLSearchParams({
        starting_at: new Date(base - 46 * DAY).toISOString(),
        ending_at: new Date(h.clock.now().getTime() + DAY).toISOString(),
        bucket_width: width,
        group_by: 'workspace_id,model,product,api_key_id,member_id',
        limit: String(limit),
        ...(page ? { page } : {}),
      })
      const res = await h.call('GET', `/v1/usage?${query}`, { key: org.adminKey })
      expect(res.status).toBe(200)
      for (const bucket of res.body.data) {
        for (const r of bucket.results) {
          const key = [
            bucket.starting_at,
            r.workspace_id,
            r.model,
            r.product,
            r.api_key_id ?? '',
            r.member_id ?? '',
          ]
          totals[key.join(' ')] = `${r.input_tokens}/${r.output_tokens}/${r.requests}/${r.cost}`
        }
      }
      page = res.body.next_page
    } while (page)
    return totals
  }

  function expectedTotals(width: '1h' | '1d' | '1mo') {
    const sums = new Map<
      string,
      { input: number; output: number; requests: number; cost: bigint }
    >()
    for (const event of accepted.values()) {
      const start =
        width === '1mo'
          ? monthStart(event.timestamp)
          : new Date(
              event.timestamp - (event.timestamp % (width === '1h' ? 3_600_000 : DAY))
            ).toISOString()
      const key = [start, ...event.dims].join(' ')
      const sum = sums.get(key) ?? { input: 0, output: 0, requests: 0, cost: 0n }
      sum.input += event.input
      sum.output += event.output
      sum.requests += event.requests
      sum.cost += event.cost
      sums.set(key, sum)
    }
    return Object.fromEntries(
      [...sums].map(([key, s]) => [key, `${s.input}/${s.output}/${s.requests}/${money(s.cost)}`])
    )
  }

  async function checkBudgets() {
    const now = h.clock.now()
    const month = now.toISOString().slice(0, 7)
    const res = await h.call('GET', '/v1/budgets', { key: org.adminKey })
    expect(res.status).toBe(200)
    for (const budget of res.body.data) {
      const scope = budget.workspace_id === null ? 0 : workspaceIds.indexOf(budget.workspace_id) + 1
      let spend = 0n
      for (const event of accepted.values()) {
        if (new Date(event.timestamp).toISOString().slice(0, 7) !== month) continue
        if (scope === 0 || event.ws === scope - 1) spend += event.cost
      }
      const limit = limits[scope]
      const exceeded = limit !== null && limit !== undefined && spend >= limit.micros
      const crossed = limit
        ? limit.thresholds.filter((t) => spend * 100n >= BigInt(t) * limit.micros)
        : []
      expect(budget, `scope ${scope}`).toMatchObject({
        month,
        spend: money(spend),
        limit: limit ? money(limit.micros) : null,
        percent_used: limit ? Number((spend * 10_000n) / limit.micros) / 100 : null,
        state: exceeded ? 'exceeded' : crossed.length ? 'warning' : 'ok',
        suspended: exceeded && limit!.hard,
      })
      const fired = budget.alerts.map((a: { threshold_percent: number }) => a.threshold_percent)
      expect(new Set(fired).size).toBe(fired.length) // each threshold at most once a month
      for (const threshold of crossed) expect(fired).toContain(threshold)
      const suspension = await budgetSuspension(h.db, org.id, workspaceIds[Math.max(scope - 1, 0)]!)
      expect(scope === 0 ? suspension.organization : suspension.workspace).toBe(budget.suspended)
    }
  }
}

function monthStart(timestamp: number): string {
  const at = new Date(timestamp)
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1)).toISOString()
}
