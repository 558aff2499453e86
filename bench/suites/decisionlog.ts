/**
 * Decision log, policy simulation and reverse queries (issue 15), over the 10,000-member
 * organization of the decision benchmark (bench/suites/decisions.ts, `seedLarge`):
 * - the latency logging adds to a warm decision: POST /v1/authorize in process, and the
 *   decision-log hook's own share of it, in the same run (see loggingOverhead);
 * - simulating 100,000 recorded decisions with a proposed forbid against 100,000 raw
 *   `statefulIsAuthorized` calls on identical inputs in the same run;
 * - authorized-principals pages of 100 in that organization (workspaces × actions, every page
 *   followed), first with a cold decision cache, then warm.
 * Each row prints its target and pass/fail.
 */
import type * as cedar from '@cedar-policy/cedar-wasm/nodejs'
import { createApp } from '../../functions/app/app.js'
import { StoreDecisionService } from '../../functions/app/decisions.js'
import { cedarInstance } from '../../functions/authz/engine.js'
import { authorizedPrincipals, SCAN_BUDGET } from '../../functions/domain/authorized.js'
import type { ServiceContext } from '../../functions/domain/context.js'
import { DECISION_RETENTION_DAYS, DecisionRecorder } from '../../functions/domain/decision-log.js'
import { createServiceKey } from '../../functions/domain/keys.js'
import { simulatePolicies } from '../../functions/domain/simulation.js'
import { systemClock } from '../../functions/lib/clock.js'
import { newId } from '../../functions/lib/ids.js'
import { generateSecret } from '../../functions/lib/secrets.js'
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

/**
 * The added latency of logging on a warm decision as a client gets it: POST /v1/authorize
 * through the app in process (warm: credential, facts and decision caches hot), every request
 * recorded as shipped (background mode). Its logging share is the hook's own time
 * (`recordDecisions` = DecisionRecorder.record on the finished result), timed alone in the same
 * run on the same inputs: ratio = decision ÷ (decision − logging). The service-level rows show
 * DecisionService.authorize alone against authorize + record, whose warm repeat is answered from
 * the decision cache in a few microseconds.
 */
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
  const ctx: ServiceContext = {
    db,
    clock: systemClock,
    actor: { type: 'system', id: 'bench' },
    requestId: null,
  }
  const serviceKey = await createServiceKey(ctx, 'bench-decisionlog')
  const app = createApp({
    db,
    clock: systemClock,
    operatorKey: generateSecret('operator'),
    decisions: service,
  })
  const headers = {
    authorization: `Bearer ${serviceKey.secret}`,
    'content-type': 'application/json',
  }
  const bodies = org.requests.map((request) =>
    JSON.stringify({ organization_id: org.id, ...request })
  )
  const now = new Date()
  const http = async (i: number) => {
    const res = await app.request('/v1/authorize', { method: 'POST', headers, body: bodies[i]! })
    if (res.status !== 200) throw new Error(`authorize: ${res.status}`)
    await res.arrayBuffer()
  }
  for (let i = 0; i < org.requests.length; i++) await http(i) // warm
  const decided = await Promise.all(org.requests.map((r) => service.authorize(org.id, r, now)))
  const entry = (i: number) => [
    {
      request: { ...org.requests[i]!, context: org.requests[i]!.context ?? null },
      result: decided[i]!,
    },
  ]
  const samples = {
    http: [] as number[],
    hook: [] as number[],
    plain: [] as number[],
    logged: [] as number[],
  }
  for (let round = 0; round <= ROUNDS; round++) {
    for (const mode of ['http', 'hook', 'plain', 'logged'] as const) {
      for (let i = 0; i < org.requests.length; i++) {
        const start = process.hrtime.bigint()
        if (mode === 'http') await http(i)
        else if (mode === 'hook') await recorder.record(org.id, caller, entry(i), now)
        else {
          const result = await service.authorize(org.id, org.requests[i]!, now)
          if (mode === 'logged') {
            await recorder.record(
              org.id,
              caller,
              [
                {
                  request: { ...org.requests[i]!, context: org.requests[i]!.context ?? null },
                  result,
                },
              ],
              now
            )
          }
        }
        if (round > 0) samples[mode].push(Number(process.hrtime.bigint() - start) / 1000)
      }
      await recorder.flush()
    }
  }
  const p50 = (list: number[]) => percentile(list, 50)
  const httpRatio = p50(samples.http) / (p50(samples.http) - p50(samples.hook))
  rows.push([
    'warm POST /v1/authorize, p50 (µs); logging share',
    fmt(p50(samples.http)),
    `without logging ${fmt(p50(samples.http) - p50(samples.hook))} (hook ${fmt(p50(samples.hook), 2)})`,
    fmt(httpRatio, 3),
    '≤ 1.10 ×',
    verdict(httpRatio <= 1.1),
  ])
  rows.push([
    'DecisionService.authorize warm repeat + record, p50 (µs)',
    fmt(p50(samples.logged), 2),
    fmt(p50(samples.plain), 2),
    fmt(p50(samples.logged) / p50(samples.plain), 2),
    '— (the decision cache answers in µs)',
    '',
  ])
  notes.push(
    `Logging: ${org.requests.length} different warm requests × ${ROUNDS} rounds after a warm-up; "http" = POST /v1/authorize through the app in process with a service key, recorded as shipped (background mode: ids, sampling, each request's records one item, written by BatchWriteItem, 25 items per call, after the responses, to the embedded store in its own process); "hook" = DecisionRecorder.record (the route's decision-log hook) timed alone on the same requests and results; ratio = http ÷ (http − hook). The service row: DecisionService.authorize (a warm repeat, from the decision cache) alone and with record; the absolute difference is what logging adds to every decision.`
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
  // Each at its own time, so each is one item (one request of one decision).
  await decisionLog.putPacks(
    db,
    records.flatMap((record) => decisionLog.pack([record]))
  )

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
    `Simulation: POST /v1/policies/simulate's function over ${REPLAYED.toLocaleString('en')} records of ${decided.length} different requests, made at the organization's current revision (so each record's own result is "before"), with a proposed forbid — a restricting change, so only the allowed records are decided again (a deny cannot become an allow); ${report.changed.length} flip (${report.summary.allow_to_deny} allow→deny). It includes reading every record from the store (written beforehand as ${REPLAYED.toLocaleString('en')} items, one per record as if each were its own request, by ${Math.ceil(REPLAYED / 25).toLocaleString('en')} BatchWriteItem calls). Baseline: ${REPLAYED.toLocaleString('en')} raw statefulIsAuthorized calls on the captured entities of the same requests.`
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
