/**
 * `npm run bench -- bundles`: the deployable Lambda assets — size on disk and zipped, and cold
 * initialisation measured locally (a fresh bare Node process per run: import of the bundle —
 * for the API this compiles the cedar wasm, reads the operator secret and validates the
 * policies — then the first invocation: an Admin request for the API, a scheduled run over
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
import { createOrganization } from '../../functions/domain/organizations.js'
import { systemClock } from '../../functions/lib/clock.js'
import type { AggregationSummary } from '../../functions/model/index.js'
import { createDocumentClient, ensureTable } from '../../functions/store/client.js'
import { Db } from '../../functions/store/db.js'
import { startEmbeddedStore } from '../../functions/store/embedded.js'
import { ingestUsageEvents } from '../../functions/usage/ingestion.js'
import { API_ENTRY } from '../../infra/api.js'
import { assetExtras, ESBUILD_TARGET, ESM_BANNER, MAIN_FIELDS } from '../../infra/bundling.js'
import { startFakeEventBridge } from '../../test/helpers/lambda-local/fake-eventbridge.js'
import { startFakeSecretsManager } from '../../test/helpers/lambda-local/fake-secrets-manager.js'
import { httpApiEvent } from '../../test/helpers/lambda-local/http-api-event.js'
import {
  type LambdaAsset,
  removeDirectory,
  resolveEnvironment,
  startLocalLambda,
  synthesizeWithBundling,
} from '../../test/helpers/lambda-local/lambda-assets.js'
import { scheduledEvent } from '../../test/helpers/lambda-local/scheduled-event.js'
import type { BenchSuite, BenchTable } from '../run.js'
import { fmt, percentile } from '../stats.js'

const COLD_RUNS = 9
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

      // Rounds interleave every subject, so a burst of load on the shared machine hits all alike.
      const wasmCompile: number[] = []
      const emptyImport: number[] = []
      const engineImport: number[] = []
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
        baseline('import the Cedar engine alone (wasm + policy validation)', engineImport)
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

      const load = `1-minute load average ${fmt(loadBefore, 2)} before the run, ${fmt(loadavg()[0]!, 2)} after it, on ${availableParallelism()} CPUs.`
      return [
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
            `init = importing the bundle in a fresh bare Node process: module load; for the API also the cedar wasm compile, reading the operator secret (local Secrets Manager endpoint) and Cedar policy validation (the aggregation bundle has no Cedar). First invocation: for Api, \`GET /v1/workspaces\` with an admin key (credential lookup, Cedar decision, query); for Aggregation, the schedule's event, running a pass over ${EVENTS_PER_RUN.toLocaleString('en')} events ingested just before (totals, budget evaluation). Against dynalite. Wall = elapsed; CPU = CPU time of the process, all threads (steadier when the machine is shared). Baselines run in fresh processes in the same rounds (wall only).`,
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
            "Rebuilt from the same entry with the stack's esbuild settings. SDK external: `@aws-sdk/*` left out of the bundle and loaded from node_modules, as from the Lambda runtime's own copy. CJS: the same app with its setup (secret read) awaited on the first request, since CommonJS has no top-level await.",
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
    options: { format: 'esm' | 'cjs'; external?: string[]; entry?: string },
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

/** The Cedar engine module alone, bundled like the functions, with the wasm and policies. */
async function buildCedarEngine(work: string): Promise<string> {
  const dir = mkdtempSync(join(work, 'engine-'))
  await build({
    ...ESBUILD_COMMON,
    entryPoints: [join(REPO, 'functions/authz/engine.ts')],
    outfile: join(dir, 'engine.mjs'),
    format: 'esm',
    banner: { js: ESM_BANNER },
  })
  const extras = spawnSync('bash', ['-c', assetExtras(dir).join(' && ')], { encoding: 'utf8' })
  if (extras.status !== 0) throw new Error(extras.stderr)
  return dir
}
