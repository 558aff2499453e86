/**
 * Soak (issue 10): `npm start` in its own process (fresh DATA_DIR in a temp dir, its own port on
 * 127.0.0.1) under autocannon at 100 connections for SOAK_SECONDS (default 600) over a mix of
 * single and batch decisions, workspace listing, member changes and usage ingestion. Reports
 * crashes, request errors, non-2xx per route (apart from the ones the mix asks for), and the RSS
 * of the API process and of the embedded store's process after the first minute and at the end.
 * Exits non-zero when a target is missed.
 *
 *   npm run bench -- soak
 *   SOAK_SECONDS=90 npm run bench -- soak
 *   SOAK_SERVER_COMMAND='node --no-turbo-inline-js-wasm-calls --import tsx functions/entry/local-server.ts' \
 *     npm run bench -- soak
 *
 * Only `soak` selects it (`npm run bench` without arguments skips it: it takes ten minutes).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { generateSecret } from '../../functions/lib/secrets.js'
import type { BenchSuite, BenchTable } from '../run.js'
import { fmt } from '../stats.js'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600)
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 100)
/** By default exactly what `npm start` runs. */
const COMMAND = process.env.SOAK_SERVER_COMMAND ?? 'npm start'
const RSS_RATIO_TARGET = 1.3
const MEMBERS = 50
const WORKSPACES = 5
const BATCH_SIZE = 25
const EVENTS_PER_REQUEST = 10
const ACTIONS = ['use_chat', 'use_code', 'invoke_model', 'read_usage', 'manage_api_keys']

function progress(message: string): void {
  process.stderr.write(`[soak] ${new Date().toISOString().slice(11, 19)} ${message}\n`)
}

function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024
  } catch {
    return Number.NaN
  }
}

interface Server {
  child: ChildProcess
  url: string
  apiPid: number
  storePid: number | null
  adminKey: string
  organizationId: string
  /** Set when the process exited before it was told to stop. */
  crashed: () => string | null
  stop: () => Promise<void>
  logTail: () => string
}

async function startServer(dataDir: string, operatorKey: string): Promise<Server> {
  const logFile = join(dataDir, 'server.log')
  const log = createWriteStream(logFile)
  let output = ''
  let stopping = false
  let crash: string | null = null
  // Its own process group, so that npm, tsx, the API and the store stop together.
  const child = spawn('sh', ['-c', COMMAND], {
    cwd: process.cwd(),
    detached: true,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      OPERATOR_KEY: operatorKey,
      // Errors and warnings only: a JSON line per request would cost the server more than the
      // requests themselves and fill the disk over ten minutes.
      POWERTOOLS_LOG_LEVEL: 'WARN',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const onData = (chunk: Buffer) => {
    log.write(chunk)
    if (output.length < 1_000_000) output += chunk.toString()
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      if (!stopping) crash = `exited with ${code ?? signal}`
      resolve()
    })
  )
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal)
    } catch {
      // Already gone.
    }
  }
  const stop = async () => {
    stopping = crash === null
    killGroup('SIGTERM')
    const timer = setTimeout(() => killGroup('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
    log.end()
  }
  const banner = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 120_000)
    const check = () => {
      const match =
        /Admin engine on (http:\/\/\S+?:\d+) \(.*?pid (\d+)(?:, embedded store: \S+, pid (\d+))?.*\)[\s\S]*Demo organization: (org_\S+)[\s\S]*Demo admin key[^:]*: (adm_\S+)/.exec(
          output
        )
      if (match) {
        clearTimeout(timer)
        child.stdout!.off('data', check)
        resolve(match)
      }
    }
    child.stdout!.on('data', check)
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`server exited before it started:\n${output}`))
    })
  }).catch(async (error) => {
    await stop()
    throw error
  })
  return {
    child,
    url: banner[1]!,
    apiPid: Number(banner[2]),
    storePid: banner[3] ? Number(banner[3]) : null,
    organizationId: banner[4]!,
    adminKey: banner[5]!,
    crashed: () => crash,
    stop,
    logTail: () => output.slice(-4000),
  }
}

async function call(
  server: Server,
  key: string,
  method: string,
  path: string,
  body?: unknown
): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`)
  return JSON.parse(text) as Record<string, unknown>
}

interface RouteStats {
  requests: number
  ok: number
  expected: number
  unexpected: Map<number, number>
  /** Responses that were 2xx but said something went wrong (rejected usage events). */
  bad: number
  sample?: string
}

async function run(): Promise<BenchTable[]> {
  if (process.argv.slice(2).length === 0) {
    return [
      {
        title: 'Soak: skipped',
        columns: ['note'],
        rows: [['takes SOAK_SECONDS (default 600 s): run it with `npm run bench -- soak`']],
      },
    ]
  }
  if (!Number.isFinite(SECONDS) || SECONDS < 10) throw new Error('SOAK_SECONDS must be ≥ 10')
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-soak-'))
  const operatorKey = generateSecret('operator')
  progress(`starting \`${COMMAND}\` (DATA_DIR ${dataDir})`)
  const server = await startServer(dataDir, operatorKey)
  progress(`${server.url}: API pid ${server.apiPid}, store pid ${server.storePid ?? '(none)'}`)
  try {
    return await soak(server, operatorKey)
  } finally {
    await server.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function soak(server: Server, operatorKey: string): Promise<BenchTable[]> {
  // ----- an organization to work on, through the API ---------------------------------------
  const service = (await call(server, operatorKey, 'POST', '/v1/service-keys', { name: 'soak' }))
    .secret as string
  const workspaceIds: string[] = []
  for (let i = 0; i < WORKSPACES; i++) {
    const ws = await call(server, server.adminKey, 'POST', '/v1/workspaces', { name: `Soak ${i}` })
    workspaceIds.push(ws.id as string)
  }
  const memberIds: string[] = []
  for (let i = 0; i < MEMBERS; i++) {
    const member = await call(server, server.adminKey, 'POST', '/v1/members', {
      email: `soak-fixed-${i}@example.com`,
      name: `Soak ${i}`,
      workspaces: [{ workspace_id: workspaceIds[i % WORKSPACES], roles: ['user'] }],
    })
    memberIds.push(member.id as string)
  }
  const org = server.organizationId
  const adminHeaders = {
    authorization: `Bearer ${server.adminKey}`,
    'content-type': 'application/json',
  }
  const serviceHeaders = { authorization: `Bearer ${service}`, 'content-type': 'application/json' }

  // ----- the mix -----------------------------------------------------------------------------
  let counter = 0
  const decision = () => {
    const n = counter++
    return {
      principal: { type: 'Member', id: memberIds[n % MEMBERS]! },
      action: ACTIONS[n % ACTIONS.length]!,
      resource: { type: 'Workspace', id: workspaceIds[(n >> 3) % WORKSPACES]! },
    }
  }
  const stats = new Map<string, RouteStats>()
  const buckets: number[] = []
  const started = Date.now()
  type Context = { memberId?: string; email?: string }
  type Step = {
    route: string
    /** Statuses this step asks for besides 2xx (e.g. a duplicate create → 409). */
    expect?: number[]
    build: (context: Context) => { method: string; path: string; headers: object; body?: string }
    check?: (body: string, context: Context, status: number) => boolean
  }
  const authorize: Step = {
    route: 'POST /v1/authorize',
    build: () => ({
      method: 'POST',
      path: '/v1/authorize',
      headers: serviceHeaders,
      body: JSON.stringify({ organization_id: org, ...decision() }),
    }),
  }
  const batch: Step = {
    route: 'POST /v1/authorize/batch',
    build: () => ({
      method: 'POST',
      path: '/v1/authorize/batch',
      headers: serviceHeaders,
      body: JSON.stringify({
        organization_id: org,
        requests: Array.from({ length: BATCH_SIZE }, decision),
      }),
    }),
  }
  const listWorkspaces: Step = {
    route: 'GET /v1/workspaces',
    build: () => ({ method: 'GET', path: '/v1/workspaces', headers: adminHeaders }),
  }
  const usage: Step = {
    route: 'POST /v1/usage/events',
    build: () => {
      const timestamp = new Date().toISOString()
      return {
        method: 'POST',
        path: '/v1/usage/events',
        headers: serviceHeaders,
        body: JSON.stringify({
          events: Array.from({ length: EVENTS_PER_REQUEST }, () => {
            const n = counter++
            return {
              id: `soak-${started}-${n}`,
              organization_id: org,
              workspace_id: workspaceIds[n % WORKSPACES],
              timestamp,
              product: 'chat',
              model: 'claude-sonnet-4',
              member_id: memberIds[n % MEMBERS],
              input_tokens: 1000,
              output_tokens: 100,
            }
          }),
        }),
      }
    },
    // Every event is new: all accepted, none a duplicate, none rejected.
    check: (body) => {
      const result = JSON.parse(body) as { accepted: number; rejected: unknown[] }
      return result.accepted === EVENTS_PER_REQUEST && result.rejected.length === 0
    },
  }
  const createMember: Step = {
    route: 'POST /v1/members',
    build: (context) => {
      context.email = `soak-${started}-${counter++}@example.com`
      return {
        method: 'POST',
        path: '/v1/members',
        headers: adminHeaders,
        body: JSON.stringify({
          email: context.email,
          name: 'Soak temp',
          workspaces: [{ workspace_id: workspaceIds[counter % WORKSPACES], roles: ['user'] }],
        }),
      }
    },
    check: (body, context, status) => {
      if (status === 201) context.memberId = (JSON.parse(body) as { id: string }).id
      return true
    },
  }
  const duplicateMember: Step = {
    route: 'POST /v1/members (same email again)',
    expect: [409],
    build: (context) => ({
      method: 'POST',
      path: '/v1/members',
      headers: adminHeaders,
      body: JSON.stringify({ email: context.email, name: 'Soak duplicate' }),
    }),
    check: (_body, _context, status) => status === 409,
  }
  const patchMember: Step = {
    route: 'PATCH /v1/members/{id}',
    build: (context) => ({
      method: 'PATCH',
      path: `/v1/members/${context.memberId ?? 'mem_missing'}`,
      headers: adminHeaders,
      body: JSON.stringify({ name: 'Soak renamed' }),
    }),
  }
  const deleteMember: Step = {
    route: 'DELETE /v1/members/{id}',
    build: (context) => ({
      method: 'DELETE',
      path: `/v1/members/${context.memberId ?? 'mem_missing'}`,
      headers: adminHeaders,
    }),
  }
  // One cycle per connection: 20 requests, ≈ 40 % decisions, 20 % listing, 20 % members, 20 % usage.
  const cycle: Step[] = [
    authorize,
    listWorkspaces,
    usage,
    authorize,
    createMember,
    batch,
    authorize,
    listWorkspaces,
    patchMember,
    usage,
    authorize,
    duplicateMember,
    listWorkspaces,
    authorize,
    usage,
    batch,
    deleteMember,
    listWorkspaces,
    authorize,
    usage,
  ]
  for (const step of cycle) {
    stats.set(step.route, { requests: 0, ok: 0, expected: 0, unexpected: new Map(), bad: 0 })
  }
  const requests = cycle.map((step) => ({
    // autocannon's defaults (host, port) plus this step's request.
    // autocannon's defaults (host, port) plus this step's request, with headers of its own:
    // autocannon writes Content-Length into the headers object it is given.
    setupRequest: (request: Record<string, unknown>, context: Context) => {
      const built = step.build(context)
      return { ...request, ...built, headers: { ...built.headers } }
    },
    onResponse: (status: number, body: string, context: Context) => {
      const s = stats.get(step.route)!
      s.requests++
      const bucket = Math.floor((Date.now() - started) / 10_000)
      buckets[bucket] = (buckets[bucket] ?? 0) + 1
      let fine = true
      try {
        fine = step.check ? step.check(body, context, status) : true
      } catch {
        fine = false
      }
      if (status >= 200 && status < 300) {
        if (fine) s.ok++
        else {
          s.bad++
          s.sample ??= `${status} ${body.slice(0, 300)}`
        }
      } else if (step.expect?.includes(status)) s.expected++
      else {
        s.unexpected.set(status, (s.unexpected.get(status) ?? 0) + 1)
        s.sample ??= `${status} ${body.slice(0, 300)}`
      }
    },
  }))

  // ----- memory samples ----------------------------------------------------------------------
  const firstMark = Math.min(60, SECONDS / 2)
  const samples: { at: number; api: number; store: number }[] = []
  const sample = () => {
    const at = (Date.now() - started) / 1000
    samples.push({
      at,
      api: rssMiB(server.apiPid),
      store: server.storePid ? rssMiB(server.storePid) : Number.NaN,
    })
  }
  let afterFirstMinute: (typeof samples)[number] | undefined
  const sampler = setInterval(() => {
    sample()
    const last = samples.at(-1)!
    if (!afterFirstMinute && last.at >= firstMark) afterFirstMinute = last
    if (samples.length % 6 === 0) {
      const total = [...stats.values()].reduce((sum, s) => sum + s.requests, 0)
      progress(
        `${fmt(last.at, 0)} s: ${total} responses, RSS API ${fmt(last.api, 0)} MiB, store ${fmt(last.store, 0)} MiB`
      )
    }
  }, 5_000)

  // ----- run -----------------------------------------------------------------------------------
  progress(`${CONNECTIONS} connections for ${SECONDS} s`)
  let instance: autocannon.Instance | undefined
  // A crash ends the run early: nothing left to measure.
  const crashWatch = setInterval(() => {
    if (server.crashed()) instance?.stop()
  }, 500)
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: server.url,
        connections: CONNECTIONS,
        duration: SECONDS,
        timeout: 10,
        requests: requests as unknown as autocannon.Request[],
      },
      (error, done) => (error ? reject(error) : resolve(done))
    )
  })
  clearInterval(crashWatch)
  clearInterval(sampler)
  sample()
  const end = samples.at(-1)!
  const first = afterFirstMinute ?? samples[0]!
  const crash = server.crashed()
  if (crash) progress(`the server ${crash}; last output:\n${server.logTail()}`)

  // ----- report ------------------------------------------------------------------------------
  const routes = [...stats.entries()]
  const unexpected = routes.reduce(
    (sum, [, s]) => sum + [...s.unexpected.values()].reduce((a, b) => a + b, 0),
    0
  )
  const bad = routes.reduce((sum, [, s]) => sum + s.bad, 0)
  const errors = result.errors + result.timeouts
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) ? a / b : NaN)
  const apiRatio = ratio(end.api, first.api)
  const storeRatio = ratio(end.store, first.store)
  const elapsed = (Date.now() - started) / 1000
  const rate = (from: number, to: number) => {
    const slice = buckets.slice(from, to)
    return slice.reduce((a, b) => a + (b ?? 0), 0) / (slice.length * 10)
  }
  const minuteBuckets = Math.max(1, Math.floor(firstMark / 10))
  const lastFull = Math.floor(elapsed / 10) - 1
  const rows: (string | number)[][] = []
  const check = (name: string, value: string, target: string, pass: boolean) => {
    rows.push([name, value, target, pass ? 'pass' : '**FAIL**'])
    return pass
  }
  const passes = [
    check('server crashes (process exits)', crash ? `1 (${crash})` : '0', '0', !crash),
    check(
      'request errors (socket errors, timeouts)',
      `${errors} (${result.errors} errors, ${result.timeouts} timeouts)`,
      '0',
      errors === 0
    ),
    check('non-2xx the mix did not ask for', String(unexpected), '0', unexpected === 0),
    check('2xx with a wrong result (rejected usage events)', String(bad), '0', bad === 0),
    check(
      `API RSS at the end / after ${fmt(first.at, 0)} s`,
      `${fmt(end.api, 0)} / ${fmt(first.api, 0)} MiB = ${fmt(apiRatio, 2)}`,
      `≤ ${RSS_RATIO_TARGET}`,
      apiRatio <= RSS_RATIO_TARGET
    ),
  ]
  if (server.storePid) {
    passes.push(
      check(
        `store RSS at the end / after ${fmt(first.at, 0)} s`,
        `${fmt(end.store, 0)} / ${fmt(first.store, 0)} MiB = ${fmt(storeRatio, 2)}`,
        `≤ ${RSS_RATIO_TARGET}`,
        storeRatio <= RSS_RATIO_TARGET
      )
    )
  }
  rows.push(
    ['requests (req/s)', `${result.requests.total} (${fmt(result.requests.average, 0)}/s)`, '', ''],
    [
      'req/s in the first 10 s-buckets up to the first mark / in the last minute',
      `${fmt(rate(0, minuteBuckets), 0)} / ${fmt(rate(Math.max(0, lastFull - 5), lastFull + 1), 0)}`,
      '',
      '',
    ],
    ['latency p50 / p99 (ms)', `${result.latency.p50} / ${result.latency.p99}`, '', '']
  )
  const failed = passes.includes(false)
  if (failed) process.exitCode = 1

  const routeRows = routes.map(([route, s]) => [
    route,
    s.requests,
    s.ok,
    s.expected,
    [...s.unexpected.entries()].map(([status, n]) => `${n} × ${status}`).join(', ') || '0',
    s.bad,
  ])
  const samplesNote = samples
    .filter((_, i) => i % 12 === 0 || i === samples.length - 1)
    .map((s) => `${fmt(s.at, 0)} s: ${fmt(s.api, 0)}/${fmt(s.store, 0)}`)
    .join(', ')
  return [
    {
      title: `Soak: ${SECONDS} s at ${CONNECTIONS} connections against \`${COMMAND}\` — ${failed ? 'FAIL' : 'pass'}`,
      columns: ['measure', 'value', 'target', 'result'],
      rows,
      notes: [
        `Server: \`${COMMAND}\` in its own process group, fresh DATA_DIR, PORT=0 on 127.0.0.1, POWERTOOLS_LOG_LEVEL=WARN, aggregation every 60 s (the default). API pid ${server.apiPid}, store pid ${server.storePid ?? '—'}. Organization: ${WORKSPACES + 1} workspaces, ${MEMBERS} members; each connection cycles through 20 requests: 6 × authorize, 2 × batch of ${BATCH_SIZE}, 4 × GET /v1/workspaces, 4 × usage (${EVENTS_PER_REQUEST} new events each), create / duplicate-create (409 asked for) / patch / delete of a member.`,
        `RSS (MiB, API/store) every minute: ${samplesNote}.`,
      ],
    },
    {
      title: 'Soak: responses per route',
      columns: [
        'route',
        'requests',
        '2xx',
        'asked-for non-2xx',
        'other non-2xx',
        '2xx, wrong result',
      ],
      rows: routeRows,
      notes: routes
        .filter(([, s]) => s.sample)
        .map(([route, s]) => `First unexpected answer of ${route}: ${s.sample}`),
    },
  ]
}

const suite: BenchSuite = { name: 'Soak (long run under mixed load)', run }
export default suite
