/**
 * Decision log, policy simulation and reverse queries (issue 15), over the 10,000-member
 * organization of the decision benchmark (bench/suites/decisions.ts, `seedLarge`):
 * - the latency logging adds to a warm decision: DecisionService.authorize alone against
 *   authorize + DecisionRecorder.record (background mode, as the local server runs it), the
 *   two interleaved in the same run, and the whole run including the writes of every record;
 * - simulating 100,000 recorded decisions with a proposed forbid against 100,000 raw
 *   `statefulIsAuthorized` calls on identical inputs in the same run;
 * - authorized-principals pages of 100 in that organization (workspaces × actions, every page
 *   followed), first with a cold decision cache, then warm.
 * Each row prints its target and pass/fail.
 */
import type * as cedar from '@cedar-policy/cedar-wasm/nodejs'
import { StoreDecisionService } from '../../functions/app/decisions.js'
import { cedarInstance } from '../../functions/authz/engine.js'
import { authorizedPrincipals, SCAN_BUDGET } from '../../functions/domain/authorized.js'
import type { ServiceContext } from '../../functions/domain/context.js'
import { DECISION_RETENTION_DAYS, DecisionRecorder } from '../../functions/domain/decision-log.js'
import { simulatePolicies } from '../../functions/domain/simulation.js'
import { systemClock } from '../../functions/lib/clock.js'
import { newId } from '../../functions/lib/ids.js'
import type { DecisionRecord, ProductAction } from '../../functions/model/index.js'
import { createDocumentClient, ensureTable } from '../../functions/store/client.js'
import { Db } from '../../functions/store/db.js'
import { decisionLog } from '../../functions/store/decision-log.js'
import { startEmbeddedStore } from '../../functions/store/embedded.js'
import { revisions } from '../../functions/store/revisions.js'
import type { BenchSuite, BenchTable } from '../run.js'
import { fmt, percentile } from '../stats.js'
import { seedLarge } from './decisions.js'

const TABLE = 'bench-decisionlog'
const ROUNDS = 8
const REPLAYED = 100_000
const FORBID = `forbid (principal, action == Action::"use_studio", resource) when { principal in resource.roles.dev };`

function progress(message: string): void {
  process.stderr.write(`[decisionlog] ${new Date().toISOString().slice(11, 19)} ${message}\n`)
}

const verdict = (ok: boolean) => (ok ? 'pass' : 'FAIL')

async function run(): Promise<BenchTable[]> {
  const store = await startEmbeddedStore()
  const doc = createDocumentClient({ endpoint: store.endpoint })
  await ensureTable(doc, TABLE)
  const db = new Db(doc, TABLE)
  const ctx: ServiceContext = {
    db,
    clock: systemClock,
    actor: { type: 'system', id: 'bench' },
    requestId: null,
  }
  try {
    progress('seeding the large organization')
    const org = await seedLarge(ctx)
    const rows: (string | number)[][] = []
    const notes: string[] = []
    // DECISIONLOG_PARTS=logging,simulation,reverse (default: all) runs some of them.
    const parts = new Set(
      (process.env.DECISIONLOG_PARTS ?? 'logging,simulation,reverse').split(',')
    )
    if (parts.has('logging')) await loggingOverhead(db, org, rows, notes)
    if (parts.has('simulation')) await simulation(db, org, rows, notes)
    if (parts.has('reverse')) await reverseQueries(db, org, rows, notes)
    return [
      {
        title: 'Decision log, simulation and reverse queries (10,000-member organization)',
        columns: ['measure', 'value', 'baseline (same run)', 'ratio', 'target', 'result'],
        rows,
        notes,
      },
    ]
  } finally {
    doc.destroy()
    await store.close()
  }
}

// ----- Logging overhead --------------------------------------------------------------------

async function loggingOverhead(
  db: Db,
  org: Awaited<ReturnType<typeof seedLarge>>,
  rows: (string | number)[][],
  notes: string[]
): Promise<void> {
  progress('logging overhead')
  const service = new StoreDecisionService(db)
  const recorder = new DecisionRecorder(db, service)
  const caller = { type: 'service_key' as const, id: 'svk_bench' }
  const now = new Date()
  for (const request of org.requests) await service.authorize(org.id, request, now) // warm
  const plain: number[] = []
  const logged: number[] = []
  let plainTotal = 0
  let loggedTotal = 0
  for (let round = 0; round <= ROUNDS; round++) {
    const order = round % 2 === 0 ? ['plain', 'logged'] : ['logged', 'plain']
    for (const mode of order) {
      const started = performance.now()
      for (const request of org.requests) {
        const start = process.hrtime.bigint()
        const result = await service.authorize(org.id, request, now)
        if (mode === 'logged') {
          await recorder.record(
            org.id,
            caller,
            [{ request: { ...request, context: request.context ?? null }, result }],
            now
          )
        }
        const micros = Number(process.hrtime.bigint() - start) / 1000
        if (round > 0) (mode === 'plain' ? plain : logged).push(micros)
      }
      // The run's records are written before the clock stops: their cost is in the total.
      if (mode === 'logged') await recorder.flush()
      const elapsed = performance.now() - started
      if (round > 0) {
        if (mode === 'plain') plainTotal += elapsed
        else loggedTotal += elapsed
      }
    }
  }
  const p50 = percentile(logged, 50) / percentile(plain, 50)
  rows.push([
    'warm decision with logging, p50 (µs)',
    fmt(percentile(logged, 50)),
    fmt(percentile(plain, 50)),
    fmt(p50, 2),
    '≤ 1.10 ×',
    verdict(p50 <= 1.1),
  ])
  rows.push([
    'warm decision with logging, p99 (µs)',
    fmt(percentile(logged, 99)),
    fmt(percentile(plain, 99)),
    fmt(percentile(logged, 99) / percentile(plain, 99), 2),
    '—',
    '',
  ])
  const perDecision = (total: number) => (total * 1000) / (ROUNDS * org.requests.length)
  const total = loggedTotal / plainTotal
  rows.push([
    'per decision incl. the batched writes (µs)',
    fmt(perDecision(loggedTotal)),
    fmt(perDecision(plainTotal)),
    fmt(total, 2),
    '— (throughput; the embedded store shares the CPU)',
    '',
  ])
  notes.push(
    `Logging: ${org.requests.length} different warm requests × ${ROUNDS} rounds (after a warm-up), plain and logged alternating; logged = DecisionService.authorize + DecisionRecorder.record in background mode (ids, sampling, buffering; BatchWriteItem of 25 to the embedded store, which runs in its own process). "incl. the batched writes" times each round until every record of it is written (flush).`
  )
}

// ----- Simulation --------------------------------------------------------------------------

async function simulation(
  db: Db,
  org: Awaited<ReturnType<typeof seedLarge>>,
  rows: (string | number)[][],
  notes: string[]
): Promise<void> {
  const service = new StoreDecisionService(db)
  const now = new Date()
  progress(`recording ${REPLAYED} decisions`)
  const { revision } = await service.logContext(org.id)
  const decided = []
  for (const request of org.requests) {
    decided.push({ request, result: await service.authorize(org.id, request, now) })
  }
  // 100,000 records of the sample's 1,000 requests, spread over the last 10 hours.
  const records: DecisionRecord[] = []
  const start = now.getTime() - 10 * 3600_000
  for (let i = 0; i < REPLAYED; i++) {
    const { request, result } = decided[i % decided.length]!
    const at = new Date(start + Math.floor((i * 10 * 3600_000) / REPLAYED))
    records.push({
      id: newId('decision', at),
      object: 'decision',
      organization_id: org.id,
      decided_at: at.toISOString(),
      caller: { type: 'service_key', id: 'svk_bench' },
      request: { ...request, context: request.context ?? null },
      decision: result.decision,
      determining_policies: result.determining_policies,
      errors: result.errors,
      revision: { revision: revision.revision, policy_revision: revision.policyRevision },
      expires_at: new Date(at.getTime() + DECISION_RETENTION_DAYS * 86_400_000).toISOString(),
    })
  }
  await decisionLog.putMany(db, records)

  // The raw baseline: the proposed set pre-parsed, and the identical Cedar calls captured.
  const replay = await service.openReplay(org.id, [
    { id: 'bench-forbid', description: '', effect: 'forbid', cedar: FORBID },
  ])
  replay.close()
  const raws: cedar.StatefulAuthorizationCall[] = []
  for (const { request } of decided) {
    const captured = await service.cedarRequest(org.id, request, now)
    if ('errors' in captured) throw new Error(JSON.stringify(captured.errors))
    raws.push({
      principal: captured.request.principal,
      action: { type: 'Action', id: captured.request.action },
      resource: captured.request.resource,
      context: captured.request.context ?? {},
      entities: captured.request.entities,
      preparsedPolicySetId: captured.policySet.id,
      preparsedSchemaName: 'admin-engine',
      validateRequest: true,
    })
  }
  progress('simulating')
  const simStarted = performance.now()
  const report = await simulatePolicies(
    db,
    service,
    org.id,
    { changes: [{ id: 'bench-forbid', cedar: FORBID }], limit: REPLAYED },
    new Date()
  )
  const simSeconds = (performance.now() - simStarted) / 1000
  progress('raw baseline')
  const rawStarted = performance.now()
  for (let i = 0; i < REPLAYED; i++) {
    const answer = cedarInstance().statefulIsAuthorized(raws[i % raws.length]!)
    if (answer.type !== 'success') throw new Error('raw call failed')
  }
  const rawSeconds = (performance.now() - rawStarted) / 1000
  if (report.replayed !== REPLAYED) throw new Error(`replayed ${report.replayed}`)
  rows.push([
    `simulate ${REPLAYED.toLocaleString('en')} recorded decisions (s)`,
    fmt(simSeconds, 2),
    fmt(rawSeconds, 2),
    fmt(simSeconds / rawSeconds, 2),
    '≤ 60 s; ≤ 1.5 ×',
    `${verdict(simSeconds <= 60)}; ${verdict(simSeconds / rawSeconds <= 1.5)}`,
  ])
  notes.push(
    `Simulation: POST /v1/policies/simulate's function over ${REPLAYED.toLocaleString('en')} records of ${decided.length} different requests, made at the organization's current revision (so each record's own result is "before"), with a proposed forbid — a restricting change, so only the allowed records are decided again (a deny cannot become an allow); ${report.changed.length} flip (${report.summary.allow_to_deny} allow→deny). It includes reading every record from the store (${Math.ceil(REPLAYED / 25).toLocaleString('en')} were written by BatchWriteItem beforehand). Baseline: ${REPLAYED.toLocaleString('en')} raw statefulIsAuthorized calls on the captured entities of the same requests.`
  )
}

// ----- Reverse queries ---------------------------------------------------------------------

async function reverseQueries(
  db: Db,
  org: Awaited<ReturnType<typeof seedLarge>>,
  rows: (string | number)[][],
  notes: string[]
): Promise<void> {
  const workspaces = [...new Set(org.requests.map((r) => r.resource.id))].slice(0, 3)
  const actions: ProductAction[] = ['use_studio', 'use_chat']
  for (const phase of ['cold', 'warm'] as const) {
    progress(`reverse queries (${phase})`)
    // Cold: a new decision service (no facts cached) after a revision bump; warm: the same one again.
    await revisions.bump(db, org.id)
    const service = new StoreDecisionService(db)
    const pages: number[] = []
    let found = 0
    let incompleteWithoutCursor = 0
    for (let pass = 0; pass < (phase === 'warm' ? 2 : 1); pass++) {
      for (const workspace of workspaces) {
        for (const action of actions) {
          let after: string | undefined
          do {
            const started = performance.now()
            const page = await authorizedPrincipals(
              db,
              service,
              org.id,
              workspace,
              action,
              { limit: 100, after },
              new Date()
            )
            const ms = performance.now() - started
            if (phase === 'cold' || pass === 1) {
              pages.push(ms)
              found += page.data.length
            }
            if (page.has_more !== (page.next_cursor !== null)) incompleteWithoutCursor++
            after = page.next_cursor ?? undefined
          } while (after)
        }
      }
    }
    const p95 = percentile(pages, 95)
    rows.push([
      `authorized-principals page of 100, p95 (ms), ${phase}`,
      fmt(p95),
      '',
      '',
      '≤ 200 ms',
      verdict(p95 <= 200),
    ])
    if (phase === 'warm') {
      notes.push(
        `Reverse queries: authorized-principals (the route's function, in process) for ${workspaces.length} workspaces × ${actions.join(', ')}, every page of 100 followed (${pages.length} pages, ${found} principals found per pass; p50 ${fmt(percentile(pages, 50))} ms, max ${fmt(Math.max(...pages))} ms warm). Each page decides at most ${SCAN_BUDGET} candidates (members, then API keys) through the /v1/authorize decision path; the organization has no custom permit, so the member candidates are the workspace's role holders and a member holding no role is denied without a Cedar call (docs/decision-log.md); pages with has_more but no cursor: ${incompleteWithoutCursor}. Cold = a new decision service after a revision bump (every fact read from the store); warm = the second pass over the same service.`
      )
    }
  }
}

const suite: BenchSuite = { name: 'Decision log, simulation and reverse queries', run }
export default suite
