/**
 * Rate limiting on the decision path: a warm consumption decision (facts cached, revision not
 * due) with rate limits against the same decision without them, in the same run — its added
 * store requests and microseconds — and, as the reference of what one store request costs
 * here, a raw UpdateItem on the same embedded store. Three limited cases: minute limits only
 * (one UpdateItem), minute and month limits (two), and a workspace with no limits in an
 * organization that uses them (none). Limits are set high enough never to deny.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { StoreDecisionService } from '../../functions/app/decisions.js'
import { DecisionService, type ProductRequest } from '../../functions/authz/decisions.js'
import { putGrant } from '../../functions/domain/access.js'
import type { ServiceContext } from '../../functions/domain/context.js'
import { createMember } from '../../functions/domain/members.js'
import { createOrganization } from '../../functions/domain/organizations.js'
import { createWorkspace } from '../../functions/domain/workspaces.js'
import { systemClock } from '../../functions/lib/clock.js'
import { createDocumentClient, ensureTable } from '../../functions/store/client.js'
import { Db } from '../../functions/store/db.js'
import { storeDecisionFacts } from '../../functions/store/decision-facts.js'
import { startEmbeddedStore } from '../../functions/store/embedded.js'
import { putRateLimits } from '../../functions/usage/rate-limits.js'
import type { BenchSuite, BenchTable } from '../run.js'
import { fmt, percentile, sampleMicros } from '../stats.js'

const TABLE = 'bench-ratelimits'
const ROUNDS = 8
const PER_ROUND = 200
/** Warm: the organization's revision is not re-read during the measurement. */
const WARM = { revisionCheckMs: 3_600_000, maxAgeMs: 3_600_000 }
const HIGH = 1_000_000_000

async function run(): Promise<BenchTable[]> {
  const store = await startEmbeddedStore()
  const doc = createDocumentClient({ endpoint: store.endpoint })
  await ensureTable(doc, TABLE)
  let calls = 0
  const counted = new Proxy(doc, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver)
      return (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
        calls++
        return target.send(command)
      }
    },
  })
  const db = new Db(counted, TABLE)
  const ctx: ServiceContext = {
    db,
    clock: systemClock,
    actor: { type: 'system', id: 'bench' },
    requestId: null,
  }
  try {
    const { organization } = await createOrganization(ctx, { name: 'Limited' })
    const org = organization.id
    const minute = (await createWorkspace(ctx, org, { name: 'minute limits' })).id
    const month = (await createWorkspace(ctx, org, { name: 'minute and month limits' })).id
    const free = (await createWorkspace(ctx, org, { name: 'no limits' })).id
    const exact = (await createWorkspace(ctx, org, { name: 'small limit, no leases' })).id
    const member = await createMember(ctx, org, { email: 'dev@bench.example', name: 'Dev' })
    for (const ws of [minute, month, free, exact]) {
      await putGrant(ctx, org, ws, { type: 'member', id: member.id }, ['dev'])
    }
    // Leased: 1 % of 100,000 requests and of 20,000,000 tokens per minute per claim.
    await putRateLimits(ctx, org, minute, [
      { model: '*', requests_per_minute: 100_000, tokens_per_minute: 20_000_000 },
    ])
    // Below LEASE_MIN_SHARE: every decision is its own UpdateItem (never used up here: the
    // run makes fewer than 9,999 decisions of this case per minute).
    await putRateLimits(ctx, org, exact, [{ model: '*', requests_per_minute: 9_999 }])
    await putRateLimits(ctx, org, month, [
      { model: 'claude-sonnet-4', requests_per_minute: 100_000, tokens_per_month: 2_000_000_000 },
    ])
    const ask = (ws: string): ProductRequest => ({
      principal: { type: 'Member', id: member.id },
      action: 'invoke_model',
      resource: { type: 'Workspace', id: ws },
      context: { model: 'claude-sonnet-4', estimated_tokens: 1200 },
    })
    const plain = new DecisionService(storeDecisionFacts(db), WARM)
    const limited = new StoreDecisionService(db, WARM)

    const plainCase = (ws: string) => async () => {
      const decision = await plain.authorize(org, ask(ws), new Date())
      if (decision.decision !== 'allow') throw new Error(JSON.stringify(decision))
    }
    const limitedCase = (ws: string) => async () => {
      const decision = await limited.authorize(org, ask(ws), new Date())
      if (decision.decision !== 'allow') throw new Error(JSON.stringify(decision))
    }
    const rawKey = { PK: 'BENCH#raw', SK: 'RAW' }
    const cases: { name: string; fn: () => Promise<unknown> }[] = [
      { name: 'warm decision, no rate limiter (baseline)', fn: plainCase(minute) },
      {
        name: '… limits ≥ 10,000/min (leased): requests + tokens per minute',
        fn: limitedCase(minute),
      },
      { name: '… limits ≥ 10,000 (leased): per minute + tokens per month', fn: limitedCase(month) },
      {
        name: '… requests_per_minute 9,999 (no leases: one UpdateItem each)',
        fn: limitedCase(exact),
      },
      { name: '… workspace without limits (limiter on)', fn: limitedCase(free) },
      {
        name: 'raw conditional UpdateItem ADD (reference)',
        fn: () =>
          db.update(
            rawKey,
            { expression: 'ADD n :one', values: { ':one': 1 } },
            { expression: 'attribute_not_exists(n) OR n <= :max', values: { ':max': HIGH } },
            true
          ),
      },
    ]
    // Interleaved rounds, so load on the shared machine falls on every case alike.
    const samples = cases.map(() => [] as number[])
    const requests = cases.map(() => 0)
    for (const c of cases) await c.fn()
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, c] of cases.entries()) {
        const before = calls
        samples[i]!.push(...(await sampleMicros(c.fn, PER_ROUND, 0)))
        requests[i]! += calls - before
      }
    }
    const base50 = percentile(samples[0]!, 50)
    const rows = cases.map((c, i) => {
      const p50 = percentile(samples[i]!, 50)
      return [
        c.name,
        fmt(requests[i]! / (ROUNDS * PER_ROUND), 3),
        fmt(p50),
        fmt(percentile(samples[i]!, 99)),
        fmt(p50 - base50),
        `${fmt(p50 / base50, 2)} ×`,
      ]
    })
    return [
      {
        title: `Warm invoke_model decision with and without rate limits (${ROUNDS} interleaved rounds × ${PER_ROUND} sequential calls per case, embedded store)`,
        columns: [
          'case',
          'store requests / decision',
          'p50 µs',
          'p99 µs',
          'added p50 µs',
          'p50 vs baseline',
        ],
        rows,
        notes: [
          'Where every share counted is ≥ 10,000 (per minute or month) an instance claims 1 % of it ' +
            'with one conditional UpdateItem and admits from that lease locally, so a decision costs ' +
            'at most ~0.01 store requests per limited window; below that, one conditional UpdateItem ' +
            'per window (the "9,999" row), about one store round trip (the raw UpdateItem row). ' +
            'docs/rate-limits.md.',
        ],
      },
    ]
  } finally {
    doc.destroy()
    await store.close()
  }
}

const suite: BenchSuite = { name: 'Rate limits on the decision path', run }
export default suite
