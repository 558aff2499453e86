/**
 * The warm HTTP hot path (issue 12): requests per second of the API as `npm start` runs it,
 * each against a bare Hono hello world on @hono/node-server measured in the same run, with the
 * server's CPU time per request; and how many store requests a warm decision makes.
 *
 * Every process on its own: the embedded store (dynalite) in its own process (as `npm start`
 * runs it), the API and the hello world each in a child process, autocannon here. Rows are
 * interleaved and repeated (`ROUNDS`), and each ratio is the row's total over the hello world's
 * total across the rounds, so drift in the machine's load falls on both alike.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import autocannon from 'autocannon'
import { createApp } from '../../functions/app/app.js'
import { putGrant } from '../../functions/domain/access.js'
import type { ServiceContext } from '../../functions/domain/context.js'
import { createServiceKey } from '../../functions/domain/keys.js'
import { createMember } from '../../functions/domain/members.js'
import { createOrganization } from '../../functions/domain/organizations.js'
import { assignSeat, setPurchasedSeats } from '../../functions/domain/seats.js'
import { createWorkspace } from '../../functions/domain/workspaces.js'
import { systemClock } from '../../functions/lib/clock.js'
import { generateSecret } from '../../functions/lib/secrets.js'
import { PRODUCT_ACTIONS, WORKSPACE_ROLES } from '../../functions/model/index.js'
import { createDocumentClient, ensureTable } from '../../functions/store/client.js'
import { Db } from '../../functions/store/db.js'
import { startEmbeddedStoreProcess } from '../../functions/store/embedded.js'
import type { BenchSuite, BenchTable } from '../run.js'
import { type ChildServer, cpuMsOf, startApiServer, startHelloWorld } from '../servers.js'
import { fmt } from '../stats.js'

const TABLE = 'bench-http'
const SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 5)
const WARM_UP_SECONDS = 1
const ROUNDS = 2
const CONNECTIONS = 10
const MEMBERS = 20
const DECISION_REQUESTS = 200

function progress(message: string): void {
  process.stderr.write(`[http] ${new Date().toISOString().slice(11, 19)} ${message}\n`)
}

interface Request {
  method: 'GET' | 'POST'
  path: string
  headers?: Record<string, string>
  body?: string
}

interface Load {
  name: string
  server: 'hello' | 'api'
  /** Decisions per request (the batch row's unit is decisions/s). */
  unit: number
  /** Minimum ratio to the hello world; none for the baseline itself. */
  target?: number
  requests: Request[]
}

interface Seeded {
  organizationId: string
  adminKey: string
  serviceKey: string
  decisions: Record<string, unknown>[]
}

async function run(): Promise<BenchTable[]> {
  const store = await startEmbeddedStoreProcess()
  const doc = createDocumentClient({ endpoint: store.endpoint })
  const servers: ChildServer[] = []
  try {
    await ensureTable(doc, TABLE)
    progress('seeding')
    const seeded = await seed(new Db(doc, TABLE))
    const operatorKey = generateSecret('operator')
    progress('starting the API and the hello world')
    const [api, hello] = await Promise.all([
      startApiServer(store.endpoint, operatorKey, TABLE),
      startHelloWorld(),
    ])
    servers.push(api, hello)
    // BENCH_HTTP_ONLY=<part of a row's name>: that row and the baseline only (for profiling).
    const only = process.env.BENCH_HTTP_ONLY
    const rows = loads(seeded).filter((load, i) => i === 0 || !only || load.name.includes(only))
    const throughput = await measure({ api, hello }, rows, () => cpuMsOf(store.pid))
    progress('counting store requests of warm calls')
    const counted = await storeRequests(doc, operatorKey, seeded)
    throughput.notes!.push(
      `Processes: store pid ${store.pid}, API pid ${api.pid}, hello world pid ${hello.pid}, autocannon pid ${process.pid} — the store shares no event loop with the API.`
    )
    return [throughput, counted]
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
    doc.destroy()
    await store.close()
  }
}

/** One organization: 3 workspaces, MEMBERS members with grants and seats, both kinds of key. */
async function seed(db: Db): Promise<Seeded> {
  const ctx: ServiceContext = {
    db,
    clock: systemClock,
    actor: { type: 'system', id: 'bench' },
    requestId: null,
  }
  const { organization, default_workspace, admin_key } = await createOrganization(ctx, {
    name: 'Bench',
  })
  const org = organization.id
  const wsIds = [default_workspace.id]
  for (const name of ['Research', 'Product'])
    wsIds.push((await createWorkspace(ctx, org, { name })).id)
  await setPurchasedSeats(ctx, org, 'chat', MEMBERS)
  const memberIds: string[] = []
  for (let i = 0; i < MEMBERS; i++) {
    const member = await createMember(ctx, org, { email: `h${i}@bench.example`, name: `H${i}` })
    memberIds.push(member.id)
    await putGrant(ctx, org, wsIds[i % wsIds.length]!, { type: 'member', id: member.id }, [
      WORKSPACE_ROLES[i % WORKSPACE_ROLES.length]!,
    ])
    if (i % 2 === 0) await assignSeat(ctx, org, 'chat', member.id)
  }
  const service = await createServiceKey(ctx, 'bench-http')
  const decisions = Array.from({ length: DECISION_REQUESTS }, (_, i) => ({
    principal: { type: 'Member', id: memberIds[i % memberIds.length]! },
    action: PRODUCT_ACTIONS[(i * 7) % PRODUCT_ACTIONS.length]!,
    resource: { type: 'Workspace', id: wsIds[(i * 3) % wsIds.length]! },
  }))
  return { organizationId: org, adminKey: admin_key.secret, serviceKey: service.secret, decisions }
}

function loads(seeded: Seeded): Load[] {
  const json = (key: string) => ({
    authorization: `Bearer ${key}`,
    'content-type': 'application/json',
  })
  const admin = { authorization: `Bearer ${seeded.adminKey}` }
  const org = seeded.organizationId
  return [
    {
      name: 'baseline: Hono hello world',
      server: 'hello',
      unit: 1,
      requests: [{ method: 'GET', path: '/' }],
    },
    {
      name: 'GET /health (liveness)',
      server: 'api',
      unit: 1,
      target: 0.3,
      requests: [{ method: 'GET', path: '/health' }],
    },
    {
      name: 'POST /v1/authorize (service key)',
      server: 'api',
      unit: 1,
      target: 0.07,
      requests: seeded.decisions.map((decision) => ({
        method: 'POST',
        path: '/v1/authorize',
        headers: json(seeded.serviceKey),
        body: JSON.stringify({ organization_id: org, ...decision }),
      })),
    },
    {
      name: 'POST /v1/authorize/batch of 100, in decisions/s',
      server: 'api',
      unit: 100,
      target: 0.5,
      requests: [0, 100].map((from) => ({
        method: 'POST',
        path: '/v1/authorize/batch',
        headers: json(seeded.serviceKey),
        body: JSON.stringify({
          organization_id: org,
          requests: seeded.decisions.slice(from, from + 100),
        }),
      })),
    },
    {
      name: 'GET /v1/workspaces (admin key)',
      server: 'api',
      unit: 1,
      target: 0.05,
      requests: [{ method: 'GET', path: '/v1/workspaces', headers: admin }],
    },
    {
      name: 'GET /v1/members?limit=20 (admin key)',
      server: 'api',
      unit: 1,
      target: 0.05,
      requests: [{ method: 'GET', path: '/v1/members?limit=20', headers: admin }],
    },
    {
      name: 'GET /v1/organization (admin key)',
      server: 'api',
      unit: 1,
      target: 0.05,
      requests: [{ method: 'GET', path: '/v1/organization', headers: admin }],
    },
  ]
}

async function measure(
  servers: { api: ChildServer; hello: ChildServer },
  all: Load[],
  storeCpuMs: () => number
): Promise<BenchTable> {
  const totals = all.map(() => ({
    perSecond: [] as number[],
    cpuMs: 0,
    storeCpuMs: 0,
    requests: 0,
    p99: [] as number[],
  }))
  for (let round = 0; round < ROUNDS; round++) {
    // The baseline first in even rounds and last in odd ones, the rest in between.
    const order = all.map((_, i) => i)
    if (round % 2 === 1) order.push(order.shift()!)
    for (const i of order) {
      const load = all[i]!
      const server = servers[load.server]
      progress(`round ${round + 1}: ${load.name}`)
      await cannon(server.url, load, WARM_UP_SECONDS)
      const cpuBefore = server.cpuMs()
      const storeBefore = storeCpuMs()
      const result = await cannon(server.url, load, SECONDS)
      const cpu = server.cpuMs() - cpuBefore
      const storeCpu = storeCpuMs() - storeBefore
      if (result.non2xx > 0 || result.errors > 0) {
        throw new Error(`${load.name}: ${result.non2xx} non-2xx, ${result.errors} errors`)
      }
      const total = totals[i]!
      total.perSecond.push(result.requests.average * load.unit)
      total.cpuMs += cpu
      total.storeCpuMs += storeCpu
      total.requests += result.requests.total
      total.p99.push(result.latency.p99)
    }
  }
  const sum = (list: number[]) => list.reduce((a, b) => a + b, 0)
  const baseline = sum(totals[0]!.perSecond)
  const rows = all.map((load, i) => {
    const total = totals[i]!
    const ratio = sum(total.perSecond) / baseline
    return [
      load.name,
      total.perSecond.map((value) => fmt(value, 0)).join(' / '),
      fmt(total.cpuMs / total.requests, 3),
      load.server === 'api' ? fmt(total.storeCpuMs / total.requests, 3) : '',
      fmt(Math.max(...total.p99), 1),
      load.target === undefined ? 'baseline' : `≥ ${load.target} ×`,
      fmt(ratio, 3),
      load.target === undefined ? '' : ratio >= load.target ? 'pass' : 'FAIL',
    ]
  })
  return {
    title: 'Warm HTTP hot path against a bare Hono hello world (autocannon)',
    columns: [
      'load',
      `per second, rounds 1 / ${ROUNDS}`,
      'server CPU ms per request',
      'store CPU ms per request',
      'latency p99 ms',
      'target',
      'ratio to hello world',
      'pass/fail',
    ],
    rows,
    notes: [
      `autocannon, ${CONNECTIONS} connections, ${SECONDS} s per row after a ${WARM_UP_SECONDS} s warm-up, ${ROUNDS} interleaved rounds (BENCH_HTTP_SECONDS sets the row length). Ratio = the row's per-second figures summed over the rounds ÷ the hello world's; the batch row counts decisions. Decision rows cycle through ${DECISION_REQUESTS} different requests of ${MEMBERS} members; CPU per request is the server's (and the store process's) user + system time over the row (/proc, 10 ms ticks).`,
    ],
  }
}

function cannon(url: string, load: Load, seconds: number) {
  return autocannon({ url, connections: CONNECTIONS, duration: seconds, requests: load.requests })
}

/**
 * Store requests of warm calls, counted on the table client of an in-process app over the same
 * store (the same app, middleware and decision path the server runs): after one warm-up call
 * of each, what each further call sends to DynamoDB.
 */
async function storeRequests(
  doc: DynamoDBDocumentClient,
  operatorKey: string,
  seeded: Seeded
): Promise<BenchTable> {
  let sent = 0
  const counted = new Proxy(doc, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver)
      return (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
        sent++
        return target.send(command)
      }
    },
  })
  const app = createApp({ db: new Db(counted, TABLE), clock: systemClock, operatorKey })
  const call = async (request: Request) => {
    const res = await app.request(request.path, {
      method: request.method,
      ...(request.headers ? { headers: request.headers } : {}),
      ...(request.body ? { body: request.body } : {}),
    })
    if (res.status !== 200) throw new Error(`${request.path}: ${res.status} ${await res.text()}`)
    await res.arrayBuffer()
  }
  const cases: { name: string; target?: number; requests: Request[] }[] = loads(seeded)
    .filter((load) => load.server === 'api')
    .map((load) => ({
      name: load.name.replace(', in decisions/s', ''),
      // Decisions and warm Admin reads: none (liveness reads nothing anyway).
      ...(load.name.startsWith('POST /v1/authorize') || load.name.startsWith('GET /v1/')
        ? { target: 0 }
        : {}),
      requests: load.requests,
    }))
  const adminDecision: Request = {
    method: 'POST',
    path: '/v1/authorize',
    headers: { authorization: `Bearer ${seeded.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ organization_id: seeded.organizationId, ...seeded.decisions[0]! }),
  }
  cases.splice(3, 0, {
    name: 'POST /v1/authorize (admin key)',
    target: 0,
    requests: [adminDecision],
  })
  const rows: (string | number)[][] = []
  for (const { name, target, requests } of cases) {
    // Warm: every request seen once; then, after every 1-second cache has run out, seen again
    // (which re-reads what expired). The counted calls follow at once, so each comes within a
    // second of its request's last sight, as "warm" says — not at a random point of the
    // once-a-second revision re-read, which a run that happens to cross it would count.
    for (const request of requests) await call(request)
    await new Promise((resolve) => setTimeout(resolve, 1_050))
    for (const request of requests) await call(request)
    const before = sent
    const started = performance.now()
    for (const request of requests) await call(request)
    const elapsedMs = performance.now() - started
    if (elapsedMs >= 1_000) throw new Error(`${name}: the counted calls took ${elapsedMs} ms`)
    const perCall = (sent - before) / requests.length
    rows.push([
      name,
      fmt(perCall, 2),
      target === undefined ? '' : `${target}`,
      target === undefined ? '' : perCall <= target ? 'pass' : 'FAIL',
    ])
  }
  return {
    title: 'DynamoDB requests per warm call (counted on the table client)',
    columns: ['call', 'store requests per call', 'target', 'pass/fail'],
    rows,
    notes: [
      'Warm = the same key, principals and organization were seen in the last second: the credential cache (1 s), the organization snapshot (revision re-read at most once a second) and its facts answer, and Admin reads come from the Admin read cache (same revision, at most 1 s old; docs/hot-path.md, "Admin reads"). Under steady load that freshness rule costs one revision read per organization per second on each instance (≈ 0.0002 per call at 5,000 calls/s), outside these counted calls: each row warms its requests, waits out the 1-s caches, sees them again, then counts them, all within one second.',
    ],
  }
}

const suite: BenchSuite = { name: 'HTTP hot path', run }
export default suite
