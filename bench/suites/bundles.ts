/**
 * `npm run bench -- bundles`: the deployable Lambda assets — size on disk and zipped, and cold
 * initialisation measured locally (a fresh bare Node process per run: import of the bundle —
 * for the API this compiles the cedar wasm, reads the operator secret and pre-parses the
 * policies compiled at build time — then the first invocation: an Admin request for the API, a scheduled run over
 * freshly ingested usage for the aggregation job). Baselines from the same run: compiling the
 * wasm alone, and importing an empty module. A second table rebuilds the API bundle in the
 * alternatives we chose between.
 */
import { spawnSync } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { deflateRawSync } from 'node:zlib'
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda'
import { build } from 'esbuild'
import { createServiceKey } from '../../functions/domain/keys.js'
import { createMember } from '../../functions/domain/members.js'
import { createOrganization } from '../../functions/domain/organizations.js'
import { systemClock } from '../../functions/lib/clock.js'
import type { AggregationSummary } from '../../functions/model/index.js'
import { createDocumentClient, ensureTable } from '../../functions/store/client.js'
import { Db } from '../../functions/store/db.js'
import { startEmbeddedStore } from '../../functions/store/embedded.js'
import { runAggregation } from '../../functions/usage/aggregation.js'
import { ingestUsageEvents } from '../../functions/usage/ingestion.js'
import { API_ENTRY } from '../../infra/api.js'
import {
  assetExtras,
  bundleAliases,
  ESBUILD_TARGET,
  ESM_BANNER,
  MAIN_FIELDS,
} from '../../infra/bundling.js'
import { startFakeEventBridge } from '../../test/helpers/lambda-local/fake-eventbridge.js'
import { startFakeSecretsManager } from '../../test/helpers/lambda-local/fake-secrets-manager.js'
import { httpApiEvent } from '../../test/helpers/lambda-local/http-api-event.js'
import {
  type LambdaAsset,
  type LocalLambda,
  removeDirectory,
  resolveEnvironment,
  startLocalLambda,
  synthesizeWithBundling,
} from '../../test/helpers/lambda-local/lambda-assets.js'
import { scheduledEvent } from '../../test/helpers/lambda-local/scheduled-event.js'
import type { BenchSuite, BenchTable } from '../run.js'
import { fmt, percentile } from '../stats.js'
import { TARGET_COLUMNS, targetRow } from '../targets.js'

const COLD_RUNS = 9
/** Issue 12's targets: API cold start (init + first request) CPU, and early decisions. */
const COLD_START_CPU_TARGET_MS = 400
const EARLY_DECISIONS_RATIO_TARGET = 3
/** Decisions timed right after a cold start, then after this many more (warm). */
const EARLY_DECISIONS = 200
const DECISIONS_BETWEEN = 3000
const WARM_DECISIONS = 400
/** The warm-up we measured and rejected: representative decisions run during init. */
const WARM_UP_ALTERNATIVE = 48
/** Warm invocations of the API bundle timed for the cost per million (CPU of each). */
const COST_DECISIONS = 300
const COST_INGEST_BATCHES = 20
const COST_EVENTS_PER_BATCH = 1000
/** Lambda arm64 us-east-1 on-demand duration price, and the request charge. */
const PRICE_PER_GB_SECOND = 0.0000133334
const PRICE_PER_MILLION_REQUESTS = 0.2
/** Lambda gives 1 vCPU at 1,769 MB and CPU in proportion below it. */
const MB_PER_VCPU = 1769
const WARM_REQUESTS = 50
/** Usage events ingested before each cold start of the aggregation job, for its first run. */
const EVENTS_PER_RUN = 1000
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:operator-AbCdEf'
const SECRET_VALUE = 'BenchOperatorSecretValue0123456789abcdefABCDEF0123'
const TABLE_NAME = 'bench-admin-engine'
const BUS_NAME = 'bench-alert-bus'
const REPO = fileURLToPath(new URL('../../', import.meta.url))

function filesIn(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesIn(join(dir, entry.name)) : [join(dir, entry.name)]
  )
}

/**
 * Exact size of a zip of the directory with each file deflated at level 9 (stored when that is
 * smaller): local headers, data, central directory and end record.
 */
function zipSize(dir: string): number {
  let total = 22
  for (const file of filesIn(dir)) {
    const name = Buffer.byteLength(relative(dir, file))
    const data = readFileSync(file)
    const deflated = deflateRawSync(data, { level: 9 }).length
    total += 30 + name + Math.min(deflated, data.length) + 46 + name
  }
  return total
}

const bytes = (dir: string, match: (file: string) => boolean = () => true) =>
  filesIn(dir)
    .filter(match)
    .reduce((sum, file) => sum + statSync(file).size, 0)
const kib = (n: number) => `${fmt(n / 1024, 0)} KiB`
const mib = (n: number) => `${fmt(n / 2 ** 20, 2)} MiB`
const median = (samples: number[]) => percentile(samples, 50)

/** Milliseconds of one cold start, wall-clock and CPU time. */
interface Cold {
  init: number
  first: number
  total: number
  initCpu: number
  firstCpu: number
  totalCpu: number
}

/** Milliseconds for a snippet in a fresh bare Node process (reported by the snippet itself). */
function freshProcessMs(code: string, cwd: string, env: Record<string, string> = {}): number {
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
  })
  if (out.status !== 0) throw new Error(out.stderr)
  return Number(out.stdout.trim())
}

/** A snippet's JSON answer from a fresh bare Node process. */
function freshProcessJson<T>(code: string, cwd: string, env: Record<string, string> = {}): T {
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
  })
  if (out.status !== 0) throw new Error(out.stderr)
  return JSON.parse(out.stdout.trim()) as T
}

/** Early and warm decisions of one fresh process (bench/cold-decisions-entry.ts). */
interface EarlyDecisions {
  initCpu: number
  warmUpCpu: number
  first: number
  warm: number
}

const EARLY_DECISIONS_SNIPPET = [
  'const c=process.cpuUsage()',
  "const m=await import('./entry.mjs')",
  'const u=process.cpuUsage(c)',
  `const r=await m.measure(${EARLY_DECISIONS},${DECISIONS_BETWEEN},${WARM_DECISIONS})`,
  'const p=(a)=>[...a].sort((x,y)=>x-y)[Math.ceil(a.length/2)-1]',
  'console.log(JSON.stringify({initCpu:(u.user+u.system)/1000,warmUpCpu:m.warmUpCpuMs,first:p(r.first),warm:p(r.warm)}))',
].join(';')

/** CPU of the baseline: importing an empty module and compiling the cedar wasm at `wasm`. */
const baselineCpuSnippet = (wasm: string) =>
  [
    "import{readFileSync}from'node:fs'",
    'const c=process.cpuUsage()',
    "await import('./empty.mjs')",
    `new WebAssembly.Module(readFileSync(${JSON.stringify(wasm)}))`,
    'const u=process.cpuUsage(c)',
    'console.log(JSON.stringify((u.user+u.system)/1000))',
  ].join(';')

export default {
  name: 'Lambda bundles: size and cold initialisation',
  async run(): Promise<BenchTable[]> {
    const loadBefore = loadavg()[0]!
    const work = mkdtempSync(join(tmpdir(), 'bench-bundles-'))
    const store = await startEmbeddedStore()
    const secrets = await startFakeSecretsManager({ [SECRET_ARN]: SECRET_VALUE })
    const bus = await startFakeEventBridge()
    const doc = createDocumentClient({ endpoint: store.endpoint })
    try {
      await ensureTable(doc, TABLE_NAME)
      const ctx = {
        db: new Db(doc, TABLE_NAME),
        clock: systemClock,
        actor: { type: 'system' as const, id: 'bench' },
        requestId: null,
      }
      const seeded = await createOrganization(ctx, { name: 'Bench' })
      const adminKey = seeded.admin_key.secret
      const serviceKey = (await createServiceKey(ctx, 'bench-bundles')).secret
      const member = await createMember(ctx, seeded.organization.id, {
        email: 'bench-bundles@example.com',
        name: 'Bench',
      })
      const warmCosts = { decisionCpu: [] as number[], ingestCpu: [] as number[] }
      let costBatch = 0
      /** CPU of warm decisions and usage batches through the built API function. */
      const measureWarmCosts = async (fn: LocalLambda) => {
        const actions = ['use_chat', 'use_studio', 'use_code', 'invoke_model']
        for (let i = 0; i < COST_DECISIONS; i++) {
          const answer = await fn.invoke<APIGatewayProxyStructuredResultV2>(
            httpApiEvent({
              method: 'POST',
              path: '/v1/authorize',
              headers: { authorization: `Bearer ${serviceKey}` },
              json: {
                organization_id: seeded.organization.id,
                principal: { type: 'Member', id: member.id },
                action: actions[i % actions.length],
                resource: { type: 'Workspace', id: seeded.default_workspace.id },
              },
            })
          )
          if (answer.result.statusCode !== 200) throw new Error(`authorize: ${answer.result.body}`)
          if (i >= COST_DECISIONS / 3) warmCosts.decisionCpu.push(answer.cpuMs)
        }
        const now = new Date().toISOString()
        for (let b = 0; b < COST_INGEST_BATCHES; b++) {
          const batch = ++costBatch
          const answer = await fn.invoke<APIGatewayProxyStructuredResultV2>(
            httpApiEvent({
              method: 'POST',
              path: '/v1/usage/events',
              headers: { authorization: `Bearer ${serviceKey}` },
              json: {
                events: Array.from({ length: COST_EVENTS_PER_BATCH }, (_, n) => ({
                  id: `cost-${batch}-${n}`,
                  organization_id: seeded.organization.id,
                  workspace_id: seeded.default_workspace.id,
                  timestamp: now,
                  product: 'chat',
                  model: n % 2 ? 'claude-sonnet-4' : 'claude-haiku-4',
                  input_tokens: 1000 + n,
                  output_tokens: 200,
                })),
              },
            })
          )
          const body = JSON.parse(answer.result.body ?? '{}') as { accepted?: number }
          if (answer.result.statusCode !== 200 || body.accepted !== COST_EVENTS_PER_BATCH) {
            throw new Error(`ingest: ${answer.result.statusCode} ${answer.result.body}`)
          }
          if (b >= 2) warmCosts.ingestCpu.push(answer.cpuMs / COST_EVENTS_PER_BATCH)
        }
        // Counted now, so the aggregation function's first run sees only its own events.
        const drained = await runAggregation({ db: ctx.db, clock: systemClock })
        if (drained.events_aggregated !== COST_INGEST_BATCHES * COST_EVENTS_PER_BATCH) {
          throw new Error(`draining the cost events: ${JSON.stringify(drained)}`)
        }
      }
      const stack = synthesizeWithBundling(join(work, 'cdk.out'), { stage: 'bench' })

      /** Copies `dir` to a fresh task root (optionally with node_modules, as the runtime's SDK). */
      const taskRootFrom = (dir: string, withNodeModules = false) => {
        const root = mkdtempSync(join(work, 'task-'))
        cpSync(dir, root, { recursive: true })
        if (withNodeModules) symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'))
        return root
      }

      const environment = (asset: LambdaAsset, root: string, overrides = {}) => ({
        ...resolveEnvironment(stack, asset, root, {
          'AWS::DynamoDB::GlobalTable': TABLE_NAME,
          'AWS::SecretsManager::Secret': SECRET_ARN,
          'AWS::Events::EventBus': BUS_NAME,
        }),
        AWS_ENDPOINT_URL_DYNAMODB: store.endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
        ...overrides,
      })

      /** What each deployed function is first invoked with, by construct path below the stack. */
      let ingested = 0
      const exercises: Record<string, Exercise> = {
        'Api/Function/Resource': {
          event: () =>
            httpApiEvent({
              method: 'GET',
              path: '/v1/workspaces',
              headers: { authorization: `Bearer ${adminKey}` },
            }),
          check: (result) => {
            const response = result as APIGatewayProxyStructuredResultV2
            if (response.statusCode !== 200) {
              throw new Error(`first request: ${response.statusCode} ${response.body}`)
            }
          },
        },
        'Aggregation/Function/Resource': {
          // One interval's worth of new usage, so the first run aggregates and evaluates.
          prepare: async () => {
            const now = new Date().toISOString()
            const result = await ingestUsageEvents(
              ctx,
              Array.from({ length: EVENTS_PER_RUN }, (_, index) => ({
                index,
                event: {
                  id: `bench-${++ingested}`,
                  organization_id: seeded.organization.id,
                  workspace_id: seeded.default_workspace.id,
                  timestamp: now,
                  product: 'chat',
                  model: ingested % 2 ? 'claude-sonnet-4' : 'claude-haiku-4',
                  input_tokens: 1000 + (ingested % 500),
                  output_tokens: 200,
                },
              }))
            )
            if (result.accepted !== EVENTS_PER_RUN) throw new Error(JSON.stringify(result))
          },
          event: () => scheduledEvent(stack, aggregationAsset),
          check: (result, { warm }) => {
            const summary = result as AggregationSummary
            const expected = warm ? 0 : EVENTS_PER_RUN
            if (summary.status !== 'completed' || summary.events_aggregated !== expected) {
              throw new Error(`aggregation run: ${JSON.stringify(summary)}`)
            }
          },
        },
        'WebhookDeliverer/Function/Resource': {
          // The EventBridge rule's event (infra/webhooks.ts): a run over what is due (here nothing).
          event: () => ({
            id: `bench-${++ingested}`,
            'detail-type': 'Scheduled Event',
            source: 'aws.events',
            time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
            detail: {},
          }),
          check: (result) => {
            const summary = result as { object?: string; failed?: number }
            if (summary.object !== 'webhook_delivery_run' || summary.failed !== 0) {
              throw new Error(`webhook delivery run: ${JSON.stringify(summary)}`)
            }
          },
        },
      }

      /** One cold start in a fresh process: init, then the first invocation. */
      const coldStart = async (subject: Subject, keepWarm: boolean): Promise<Cold> => {
        await subject.exercise.prepare?.()
        const root = taskRootFrom(subject.dir, subject.withNodeModules)
        const fn = await startLocalLambda(
          subject.asset,
          root,
          environment(subject.asset, root, subject.env)
        )
        try {
          const first = await fn.invoke(subject.exercise.event())
          subject.exercise.check(first.result, { warm: false })
          if (keepWarm) {
            const logged = Buffer.byteLength(fn.output())
            for (let i = 0; i < WARM_REQUESTS; i++) {
              const warm = await fn.invoke(subject.exercise.event())
              subject.exercise.check(warm.result, { warm: true })
              subject.warm.push(warm.ms)
            }
            subject.logBytesPerRequest = (Buffer.byteLength(fn.output()) - logged) / WARM_REQUESTS
            if (subject.asset === apiAsset) await measureWarmCosts(fn)
          }
          return {
            init: fn.initMs,
            first: first.ms,
            total: fn.initMs + first.ms,
            initCpu: fn.initCpuMs,
            firstCpu: first.cpuMs,
            totalCpu: fn.initCpuMs + first.cpuMs,
          }
        } finally {
          fn.close()
          removeDirectory(root)
        }
      }

      const pathOf = (asset: LambdaAsset) => asset.path.slice(stack.stackName.length + 1)
      const assetAt = (path: string) => stack.functions.find((fn) => pathOf(fn) === path)!
      // Each function's first invocation is its own kind of event.
      const unmeasured = stack.functions.filter((fn) => !exercises[pathOf(fn)])
      if (unmeasured.length > 0) {
        throw new Error(
          `no first event for ${unmeasured.map((fn) => fn.path).join(', ')}: add one to bench/suites/bundles.ts`
        )
      }
      const apiAsset = assetAt('Api/Function/Resource')
      const aggregationAsset = assetAt('Aggregation/Function/Resource')
      const deployed: Subject[] = stack.functions.map((asset) => ({
        name: asset.path.split('/').slice(1, -2).join('/'),
        dir: asset.assetDir,
        asset,
        exercise: exercises[pathOf(asset)]!,
        runs: [],
        warm: [],
      }))
      const variants = await buildVariants(work, apiAsset, exercises['Api/Function/Resource']!)
      const engine = await buildCedarEngine(work)
      const earlyEntry = await buildCedarEngine(
        work,
        join(REPO, 'bench/cold-decisions-entry.ts'),
        'entry.mjs'
      )

      // Rounds interleave every subject, so a burst of load on the shared machine hits all alike.
      const wasmCompile: number[] = []
      const emptyImport: number[] = []
      const engineImport: number[] = []
      const baselineCpu: number[] = []
      const early: { deployed: EarlyDecisions[]; warmedUp: EarlyDecisions[] } = {
        deployed: [],
        warmedUp: [],
      }
      writeFileSync(join(work, 'empty.mjs'), 'export const handler = () => 1\n')
      for (let round = 0; round < COLD_RUNS; round++) {
        for (const subject of [...deployed, ...variants]) {
          subject.runs.push(await coldStart(subject, round === 0 && deployed.includes(subject)))
        }
        wasmCompile.push(
          freshProcessMs(
            "import{readFileSync}from'node:fs';const t=performance.now();new WebAssembly.Module(readFileSync('cedar_wasm_bg.wasm'));console.log(performance.now()-t)",
            apiAsset.assetDir
          )
        )
        emptyImport.push(
          freshProcessMs(
            "const t=performance.now();await import('./empty.mjs');console.log(performance.now()-t)",
            work
          )
        )
        engineImport.push(
          freshProcessMs(
            "const t=performance.now();await import('./engine.mjs');console.log(performance.now()-t)",
            engine,
            { POLICY_DIR: join(engine, 'policies'), NODE_OPTIONS: '--enable-source-maps' }
          )
        )
        baselineCpu.push(
          freshProcessJson<number>(
            baselineCpuSnippet(join(apiAsset.assetDir, 'cedar_wasm_bg.wasm')),
            work
          )
        )
        for (const [kind, warmUp] of [
          ['deployed', 0],
          ['warmedUp', WARM_UP_ALTERNATIVE],
        ] as const) {
          early[kind].push(
            freshProcessJson<EarlyDecisions>(EARLY_DECISIONS_SNIPPET, earlyEntry, {
              POLICY_DIR: join(earlyEntry, 'policies'),
              NODE_OPTIONS: '--enable-source-maps',
              POWERTOOLS_LOG_LEVEL: 'SILENT',
              WARM_UP_DECISIONS: String(warmUp),
            })
          )
        }
      }

      const cell = (runs: Cold[], wall: keyof Cold, cpu: keyof Cold) =>
        `${fmt(median(runs.map((r) => r[wall])), 0)} / ${fmt(median(runs.map((r) => r[cpu])), 0)}`
      const coldColumns = (subject: Subject) => [
        cell(subject.runs, 'init', 'initCpu'),
        cell(subject.runs, 'first', 'firstCpu'),
        cell(subject.runs, 'total', 'totalCpu'),
      ]
      const sizeRows: (string | number)[][] = deployed.map((subject) => [
        subject.name,
        kib(bytes(subject.dir, (f) => /\.(m|c)?js$/.test(f))),
        kib(bytes(subject.dir, (f) => f.endsWith('.map'))),
        mib(bytes(subject.dir)),
        mib(zipSize(subject.dir)),
        ...coldColumns(subject),
      ])
      const baseline = (name: string, samples: number[]) => [
        `baseline: ${name}`,
        '',
        '',
        '',
        '',
        `${fmt(median(samples), 0)} / –`,
        '',
        '',
      ]
      sizeRows.push(
        baseline('import an empty module', emptyImport),
        baseline('compile cedar_wasm_bg.wasm only', wasmCompile),
        baseline('import the Cedar engine alone (wasm + compiled policies)', engineImport)
      )
      const apiSubject = deployed.find((subject) => subject.asset === apiAsset)!
      const aggregationSubject = deployed.find((subject) => subject.asset === aggregationAsset)!
      const compared = [{ ...apiSubject, name: 'ESM, SDK bundled (deployed)' }, ...variants]
      const variantRows = compared.map((subject) => [
        subject.name,
        kib(bytes(subject.dir, (f) => /\.(m|c)?js$/.test(f))),
        mib(zipSize(subject.dir)),
        ...coldColumns(subject),
      ])

      const apiColdCpu = median(apiSubject.runs.map((run) => run.totalCpu))
      const earlyRatio = (runs: EarlyDecisions[]) => median(runs.map((run) => run.first / run.warm))
      const earlyCell = (runs: EarlyDecisions[]) =>
        `${fmt(earlyRatio(runs), 2)} × (p50 ${fmt(median(runs.map((r) => r.first)), 0)} µs ÷ ${fmt(median(runs.map((r) => r.warm)), 0)} µs)`
      const targets: BenchTable = {
        title: `Cold start targets (issue 12; medians of ${COLD_RUNS} fresh processes each)`,
        columns: TARGET_COLUMNS,
        rows: [
          targetRow(
            'API cold start: init + first request, CPU ms',
            `${fmt(apiColdCpu, 0)} ms (baseline: empty module + wasm compile ${fmt(median(baselineCpu), 0)} ms, ${fmt(apiColdCpu / median(baselineCpu), 1)} ×)`,
            `≤ ${COLD_START_CPU_TARGET_MS} ms`,
            apiColdCpu <= COLD_START_CPU_TARGET_MS
          ),
          targetRow(
            `Decisions right after a cold start: p50 of the first ${EARLY_DECISIONS} ÷ warm p50`,
            earlyCell(early.deployed),
            `≤ ${EARLY_DECISIONS_RATIO_TARGET} ×`,
            earlyRatio(early.deployed) <= EARLY_DECISIONS_RATIO_TARGET
          ),
        ],
        notes: [
          `CPU = user + system time of the process, all threads, from the start of the import (Node's own bootstrap excluded), as Lambda's init + first invocation. The baseline runs in a fresh process in the same rounds. Early decisions: the Cedar engine bundled alone (bench/cold-decisions-entry.ts) with the same policies, in a fresh process: ${EARLY_DECISIONS} product decisions of an organization of 500 members through the decision path (in-memory facts), each timed alone, then ${DECISIONS_BETWEEN.toLocaleString('en')} more, then ${WARM_DECISIONS} timed warm.`,
          `Rejected alternative, warming the wasm during init with ${WARM_UP_ALTERNATIVE} representative decisions on a throwaway organization: ${earlyCell(early.warmedUp)}, for ${fmt(median(early.warmedUp.map((r) => r.warmUpCpu)), 0)} ms more init CPU (the engine's init alone: ${fmt(median(early.deployed.map((r) => r.initCpu)), 0)} ms without, ${fmt(median(early.warmedUp.map((r) => r.initCpu)), 0)} ms with it). The early decisions already meet the target without it; the CPU would not fit the cold start budget.`,
        ],
      }

      const memoryMb = apiAsset.memorySize
      const vcpu = Math.min(1, memoryMb / MB_PER_VCPU)
      /** Lambda cost of a million units of work taking `cpuMs` each, `perRequest` per invocation. */
      const perMillion = (cpuMs: number, perRequest: number) => {
        const gbSeconds = ((cpuMs / 1000 / vcpu) * memoryMb) / 1024
        return gbSeconds * 1e6 * PRICE_PER_GB_SECOND + PRICE_PER_MILLION_REQUESTS / perRequest
      }
      const decisionCpu = median(warmCosts.decisionCpu)
      const eventCpu = median(warmCosts.ingestCpu)
      const costs: BenchTable = {
        title: 'Lambda cost per million, from the CPU time of the built API function (warm)',
        columns: ['work', 'CPU per unit (median)', 'billed duration ≥', 'Lambda cost per million'],
        rows: [
          [
            'decision (`POST /v1/authorize`, one per request)',
            `${fmt(decisionCpu, 2)} ms`,
            `${fmt(decisionCpu / vcpu, 2)} ms`,
            `$${fmt(perMillion(decisionCpu, 1), 2)}`,
          ],
          [
            `ingested usage event (\`POST /v1/usage/events\`, ${COST_EVENTS_PER_BATCH.toLocaleString('en')} per request)`,
            `${fmt(eventCpu * 1000, 1)} µs`,
            `${fmt((eventCpu * 1000) / vcpu, 1)} µs`,
            `$${fmt(perMillion(eventCpu, COST_EVENTS_PER_BATCH), 3)}`,
          ],
        ],
        notes: [
          `CPU = the function process's user + system time per invocation (runner), warm, against the local store (its CPU is not counted: in AWS DynamoDB is billed per request unit instead). ${memoryMb} MB arm64 (infra/) gets ${fmt(vcpu, 2)} vCPU (1 vCPU at ${MB_PER_VCPU.toLocaleString('en')} MB), so a CPU-bound invocation is billed at least CPU ÷ ${fmt(vcpu, 2)}; waiting on DynamoDB adds to that. Prices: $${PRICE_PER_GB_SECOND} per GB-s and $${PRICE_PER_MILLION_REQUESTS} per million requests (us-east-1, arm64, on-demand); API Gateway, DynamoDB and logs are not included. Medians of the last ${(COST_DECISIONS * 2) / 3} of ${COST_DECISIONS} decisions and the last ${COST_INGEST_BATCHES - 2} of ${COST_INGEST_BATCHES} batches after the first cold start.`,
        ],
      }

      const load = `1-minute load average ${fmt(loadBefore, 2)} before the run, ${fmt(loadavg()[0]!, 2)} after it, on ${availableParallelism()} CPUs.`
      return [
        targets,
        costs,
        {
          title: `Deployed bundles (median of ${COLD_RUNS} cold starts each)`,
          columns: [
            'function',
            'JS',
            'source map',
            'asset on disk',
            'asset zipped',
            'init (import) ms wall / CPU',
            'first invocation ms wall / CPU',
            'cold total ms wall / CPU',
          ],
          rows: sizeRows,
          notes: [
            `init = importing the bundle in a fresh bare Node process: module load; for the API also the cedar wasm compile, reading the operator secret (local Secrets Manager endpoint) and pre-parsing the schema and the policies compiled at build time (no validation at start) (the aggregation bundle has no Cedar). First invocation: for Api, \`GET /v1/workspaces\` with an admin key (credential lookup, Cedar decision, query); for Aggregation, the schedule's event, running a pass over ${EVENTS_PER_RUN.toLocaleString('en')} events ingested just before (totals, budget evaluation). Against dynalite. Wall = elapsed; CPU = CPU time of the process, all threads (steadier when the machine is shared). Baselines run in fresh processes in the same rounds (wall only).`,
            `Warm, in the same process after a cold start (${WARM_REQUESTS} invocations, dynalite): \`GET /v1/workspaces\` median ${fmt(median(apiSubject.warm))} ms, p90 ${fmt(percentile(apiSubject.warm, 90))} ms, logging ${fmt(apiSubject.logBytesPerRequest ?? Number.NaN, 0)} bytes per request; a scheduled run with nothing new median ${fmt(median(aggregationSubject.warm))} ms, p90 ${fmt(percentile(aggregationSubject.warm, 90))} ms, logging ${fmt(aggregationSubject.logBytesPerRequest ?? Number.NaN, 0)} bytes per run.`,
            load,
          ],
        },
        {
          title: `API bundle alternatives (median of ${COLD_RUNS} cold starts each)`,
          columns: [
            'variant',
            'JS',
            'asset zipped',
            'init (import) ms wall / CPU',
            'first request ms wall / CPU',
            'cold total ms wall / CPU',
          ],
          rows: variantRows,
          notes: [
            "Rebuilt from the same entry with the stack's esbuild settings. Every zod locale: without the stack's alias of `zod` (infra/bundling.ts, zodWithoutLocales), as deployed before it. SDK external: `@aws-sdk/*` left out of the bundle and loaded from node_modules, as from the Lambda runtime's own copy. CJS: the same app with its setup (secret read) awaited on the first request, since CommonJS has no top-level await.",
          ],
        },
      ]
    } finally {
      doc.destroy()
      await bus.close()
      await secrets.close()
      await store.close()
      removeDirectory(work)
    }
  },
} satisfies BenchSuite

/** The stack's esbuild settings (infra/bundling.ts), for rebuilding variants. */
const ESBUILD_COMMON = {
  bundle: true,
  platform: 'node' as const,
  target: ESBUILD_TARGET,
  mainFields: MAIN_FIELDS,
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  logLevel: 'error' as const,
}

/** How a function is invoked first (and warm): its event and what its answer must be. */
interface Exercise {
  /** Run before each cold start, outside the measurement. */
  prepare?: () => Promise<void>
  event(): unknown
  /** Throws unless the answer is the expected one. */
  check(result: unknown, invocation: { warm: boolean }): void
}

interface Subject {
  name: string
  /** The built asset's directory (copied to a fresh task root for each cold start). */
  dir: string
  asset: LambdaAsset
  exercise: Exercise
  withNodeModules?: boolean
  env?: Record<string, string>
  runs: Cold[]
  warm: number[]
  /** Function log output per warm request (what CloudWatch Logs ingests, before Lambda's own lines). */
  logBytesPerRequest?: number
}

/** Rebuilds the API function as each alternative, with the stack's extras beside the bundle. */
async function buildVariants(
  work: string,
  apiAsset: LambdaAsset,
  exercise: Exercise
): Promise<Subject[]> {
  // The CJS variant's entry: CommonJS has no top-level await, so setup runs on first request.
  const scratch = join(REPO, '.bench')
  mkdirSync(scratch, { recursive: true })
  const cjsEntry = join(scratch, 'api-lambda-cjs.ts')
  writeFileSync(
    cjsEntry,
    [
      "import type { Context } from 'aws-lambda'",
      "import { handle } from 'hono/aws-lambda'",
      "import { createApp } from '../functions/app/app.js'",
      "import { dbFromEnvironment, readOperatorKey } from '../functions/entry/lambda-bootstrap.js'",
      "import { systemClock } from '../functions/lib/clock.js'",
      'const db = dbFromEnvironment(process.env)',
      'const ready = readOperatorKey(process.env).then((operatorKey) => handle(createApp({ db, clock: systemClock, operatorKey })))',
      'export const handler = async (event: never, context: Context) => (await ready)(event, context)',
      '',
    ].join('\n')
  )
  const variant = async (
    name: string,
    options: { format: 'esm' | 'cjs'; external?: string[]; entry?: string; aliases?: boolean },
    extra: Partial<Subject> = {}
  ): Promise<Subject> => {
    const dir = mkdtempSync(join(work, 'variant-'))
    const file = options.format === 'esm' ? 'index.mjs' : 'index.js'
    await build({
      ...ESBUILD_COMMON,
      entryPoints: [options.entry ?? API_ENTRY],
      outfile: join(dir, file),
      format: options.format,
      external: options.external ?? [],
      alias: options.aliases === false ? {} : bundleAliases(),
      ...(options.format === 'esm' ? { banner: { js: ESM_BANNER } } : {}),
    })
    const extras = spawnSync('bash', ['-c', assetExtras(dir).join(' && ')], { encoding: 'utf8' })
    if (extras.status !== 0) throw new Error(extras.stderr)
    return {
      name,
      dir,
      asset: { ...apiAsset, handlerFile: file },
      exercise,
      runs: [],
      warm: [],
      ...extra,
    }
  }
  return [
    // What the stack bundled before infra/bundling.ts took zod without its locales.
    await variant('ESM, SDK bundled, every zod locale', { format: 'esm', aliases: false }),
    await variant(
      'ESM, SDK bundled, without --enable-source-maps',
      { format: 'esm' },
      {
        env: { NODE_OPTIONS: '' },
      }
    ),
    await variant(
      'ESM, SDK external',
      { format: 'esm', external: ['@aws-sdk/*'] },
      {
        withNodeModules: true,
      }
    ),
    await variant('CJS, SDK bundled', { format: 'cjs', entry: cjsEntry }),
  ]
}

/**
 * The Cedar engine module alone (or another entry that loads it), bundled like the functions,
 * with the wasm and the compiled policies beside it.
 */
async function buildCedarEngine(
  work: string,
  entry = join(REPO, 'functions/authz/engine.ts'),
  file = 'engine.mjs'
): Promise<string> {
  const dir = mkdtempSync(join(work, 'engine-'))
  await build({
    ...ESBUILD_COMMON,
    entryPoints: [entry],
    outfile: join(dir, file),
    format: 'esm',
    alias: bundleAliases(),
    banner: { js: ESM_BANNER },
  })
  const extras = spawnSync('bash', ['-c', assetExtras(dir).join(' && ')], { encoding: 'utf8' })
  if (extras.status !== 0) throw new Error(extras.stderr)
  return dir
}
