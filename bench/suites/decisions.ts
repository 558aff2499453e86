/**
 * Product decisions: in-process latency of the project's decision path (DecisionService:
 * revision check, cached store facts, entity assembly, Cedar, policy descriptions) against a
 * raw `statefulIsAuthorized` call on identical inputs in the same run, for an organization of
 * 10 members and one of 10,000 members / 1,000 workspaces / 20,000 grants; the cost of a
 * decision whose cache was just invalidated; and HTTP decisions per second on the local server
 * (a child process on port 0) under autocannon, for single and batch requests.
 *
 * The small organization is built through the domain functions (as the Admin API would). The
 * large one is seeded directly through the store's repository functions with BatchWriteItem
 * (`putMany`), not through HTTP: creating 31,000 items one request at a time would take far
 * longer than the measurement, and the decision path reads the same items either way.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import type * as cedar from '@cedar-policy/cedar-wasm/nodejs'
import autocannon from 'autocannon'
import { StoreDecisionService } from '../../functions/app/decisions.js'
import type { ProductRequest } from '../../functions/authz/decisions.js'
import { cedarInstance } from '../../functions/authz/engine.js'
import { putGrant } from '../../functions/domain/access.js'
import type { ServiceContext } from '../../functions/domain/context.js'
import { addGroupMember, addSubgroup, createGroup } from '../../functions/domain/groups.js'
import { createServiceKey } from '../../functions/domain/keys.js'
import { createMember } from '../../functions/domain/members.js'
import { createOrganization } from '../../functions/domain/organizations.js'
import { assignSeat, setPurchasedSeats } from '../../functions/domain/seats.js'
import { buildWorkspace, createWorkspace } from '../../functions/domain/workspaces.js'
import { systemClock } from '../../functions/lib/clock.js'
import { newId } from '../../functions/lib/ids.js'
import { generateSecret } from '../../functions/lib/secrets.js'
import {
  type Member,
  PRODUCT_ACTIONS,
  type Product,
  WORKSPACE_ROLES,
  type WorkspaceGrant,
} from '../../functions/model/index.js'
import { createDocumentClient, ensureTable } from '../../functions/store/client.js'
import { Db } from '../../functions/store/db.js'
import { startEmbeddedStoreProcess } from '../../functions/store/embedded.js'
import { grants } from '../../functions/store/grants.js'
import { type GroupRecord, groups } from '../../functions/store/groups.js'
import { members } from '../../functions/store/members.js'
import { revisions } from '../../functions/store/revisions.js'
import { seats } from '../../functions/store/seats.js'
import { workspaces } from '../../functions/store/workspaces.js'
import type { BenchSuite, BenchTable } from '../run.js'
import { startApiServer } from '../servers.js'
import { fmt, percentile } from '../stats.js'

const TABLE = 'bench-decisions'
const SAMPLES = 1000
const ROUNDS = 8
const COLD_DECISIONS = 200
const HTTP_SECONDS = 10
const HTTP_CONNECTIONS = 10

/** Progress on stderr (the tables go to stdout at the end). */
function progress(message: string): void {
  process.stderr.write(`[decisions] ${new Date().toISOString().slice(11, 19)} ${message}\n`)
}

/** A deterministic pseudo-random sequence (the same organizations every run). */
function random(seed: number) {
  let state = seed >>> 0
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

export interface Org {
  name: string
  id: string
  requests: ProductRequest[]
}

async function run(): Promise<BenchTable[]> {
  // In its own process, as npm start runs it: the store shares no event loop with the API.
  const store = await startEmbeddedStoreProcess()
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
    const seedStarted = performance.now()
    progress('seeding the small organization')
    const small = await seedSmall(ctx)
    progress('seeding the large organization')
    const large = await seedLarge(ctx)
    progress('in-process latency')
    const seedSeconds = (performance.now() - seedStarted) / 1000
    const latency = await inProcess(db, [small, large])
    progress('decisions that read the store')
    const cold = await coldDecisions(db, [small, large], () => calls)
    progress('HTTP')
    const http = await overHttp(ctx, store.endpoint, [small, large])
    latency.notes!.push(
      `Seeding both organizations took ${fmt(seedSeconds)} s (the large one through BatchWriteItem).`
    )
    return [latency, cold, http]
  } finally {
    doc.destroy()
    await store.close()
  }
}

// ----- Organizations ---------------------------------------------------------------------

/** 10 members, 3 workspaces, 3 nested groups, seats: built through the domain functions. */
async function seedSmall(ctx: ServiceContext): Promise<Org> {
  const { organization, default_workspace } = await createOrganization(ctx, { name: 'Small' })
  const org = organization.id
  const wsIds = [default_workspace.id]
  for (const name of ['Research', 'Product']) {
    wsIds.push((await createWorkspace(ctx, org, { name })).id)
  }
  const team = await createGroup(ctx, org, { name: 'team' })
  const dept = await createGroup(ctx, org, { name: 'dept' })
  const all = await createGroup(ctx, org, { name: 'everyone' })
  await addSubgroup(ctx, org, dept.id, team.id)
  await addSubgroup(ctx, org, all.id, dept.id)
  await putGrant(ctx, org, wsIds[1]!, { type: 'group', id: dept.id }, ['dev'])
  await putGrant(ctx, org, wsIds[2]!, { type: 'group', id: all.id }, ['user'])
  await setPurchasedSeats(ctx, org, 'chat', 10)
  await setPurchasedSeats(ctx, org, 'code', 10)
  const memberIds: string[] = []
  for (let i = 0; i < 10; i++) {
    const member = await createMember(ctx, org, { email: `s${i}@bench.example`, name: `S${i}` })
    memberIds.push(member.id)
    await addGroupMember(ctx, org, (i % 2 === 0 ? team : all).id, member.id)
    if (i % 3 === 0) {
      await putGrant(ctx, org, wsIds[1 + (i % 2)]!, { type: 'member', id: member.id }, [
        WORKSPACE_ROLES[i % WORKSPACE_ROLES.length]!,
      ])
    }
    if (i % 2 === 0) await assignSeat(ctx, org, 'chat', member.id)
    if (i % 4 === 0) await assignSeat(ctx, org, 'code', member.id)
  }
  return {
    name: 'small: 10 members, 3 workspaces',
    id: org,
    requests: sampleRequests(memberIds, wsIds, 1),
  }
}

/**
 * 10,000 members in 200 groups (two nesting levels), 1,000 workspaces, 20,000 grants (every
 * member's default-workspace grant, 8,000 more member grants and 2,000 group grants), seats
 * for about half the members: written with BatchWriteItem through the repositories.
 */
export async function seedLarge(ctx: ServiceContext): Promise<Org> {
  const rand = random(42)
  const now = new Date()
  const at = now.toISOString()
  const { organization, default_workspace } = await createOrganization(ctx, { name: 'Large' })
  const org = organization.id
  const extra = Array.from({ length: 999 }, (_, i) => buildWorkspace(org, { name: `ws ${i}` }, now))
  await workspaces.putMany(ctx.db, org, extra)
  const wsIds = [default_workspace.id, ...extra.map((w) => w.id)]

  const groupRecords: { group: GroupRecord; parentIds: string[] }[] = []
  for (let i = 0; i < 200; i++) {
    groupRecords.push({
      group: {
        id: newId('group', now),
        object: 'group',
        organization_id: org,
        name: `group ${i}`,
        org_role: null,
        external_id: null,
        scim_managed: false,
        created_at: at,
        updated_at: at,
        version: 1,
      },
      parentIds: [],
    })
  }
  // Groups 0..149 are each nested in one of 150..199.
  for (let i = 0; i < 150; i++)
    groupRecords[i]!.parentIds.push(groupRecords[150 + (i % 50)]!.group.id)
  await groups.putMany(ctx.db, groupRecords)
  const groupIds = groupRecords.map((g) => g.group.id)

  const memberRows: { member: Member; groupIds: string[] }[] = []
  const grantList: WorkspaceGrant[] = []
  const seatRows: { product: Product; member_id: string }[] = []
  const grant = (workspaceId: string, type: 'member' | 'group', id: string, role: string) =>
    grantList.push({
      object: 'workspace_grant',
      organization_id: org,
      workspace_id: workspaceId,
      principal: { type, id },
      roles: [role as WorkspaceGrant['roles'][number]],
      created_at: at,
      updated_at: at,
      version: 1,
    })
  for (let i = 0; i < 10_000; i++) {
    const member: Member = {
      id: newId('member', now),
      object: 'member',
      organization_id: org,
      email: `m${i}@large.example`,
      name: `M${i}`,
      org_role: i % 200 === 0 ? 'billing_manager' : 'member',
      status: i % 50 === 0 ? 'deactivated' : 'active',
      given_name: null,
      family_name: null,
      external_id: null,
      scim_managed: false,
      created_at: at,
      updated_at: at,
      version: 1,
    }
    const direct = [groupIds[Math.floor(rand() * 150)]!]
    if (rand() < 0.3) direct.push(groupIds[Math.floor(rand() * 200)]!)
    memberRows.push({ member, groupIds: [...new Set(direct)] })
    grant(default_workspace.id, 'member', member.id, 'workspace_contributor')
    if (rand() < 0.5) seatRows.push({ product: 'chat', member_id: member.id })
    if (rand() < 0.3) seatRows.push({ product: 'code', member_id: member.id })
  }
  const memberIds = memberRows.map((row) => row.member.id)
  const taken = new Set<string>()
  while (grantList.length < 18_000) {
    const member = memberIds[Math.floor(rand() * memberIds.length)]!
    const ws = wsIds[1 + Math.floor(rand() * 999)]!
    if (taken.has(`${ws}/${member}`)) continue
    taken.add(`${ws}/${member}`)
    grant(ws, 'member', member, WORKSPACE_ROLES[Math.floor(rand() * WORKSPACE_ROLES.length)]!)
  }
  while (grantList.length < 20_000) {
    const group = groupIds[Math.floor(rand() * groupIds.length)]!
    const ws = wsIds[1 + Math.floor(rand() * 999)]!
    if (taken.has(`${ws}/${group}`)) continue
    taken.add(`${ws}/${group}`)
    grant(ws, 'group', group, WORKSPACE_ROLES[Math.floor(rand() * WORKSPACE_ROLES.length)]!)
  }
  progress('  members')
  await members.putMany(ctx.db, memberRows)
  progress('  grants')
  await grants.putMany(ctx.db, grantList)
  progress('  seats')
  await seats.setPurchased(ctx.db, org, 'chat', 10_000)
  await seats.setPurchased(ctx.db, org, 'code', 10_000)
  await seats.putAssignments(
    ctx.db,
    org,
    seatRows.map((row) => ({ object: 'seat_assignment', ...row, assigned_at: at }))
  )
  // The bulk load bypassed recordAudit: bump the revision as any committed change would.
  await revisions.bump(ctx.db, org)

  // Requests about workspaces members hold grants in (directly), and random ones.
  const memberWorkspaces = grantList.filter((g) => g.principal.type === 'member')
  const requests: ProductRequest[] = []
  const rand2 = random(7)
  for (let i = 0; i < SAMPLES; i++) {
    const pick =
      rand2() < 0.7
        ? memberWorkspaces[Math.floor(rand2() * memberWorkspaces.length)]!
        : {
            principal: { id: memberIds[Math.floor(rand2() * memberIds.length)]! },
            workspace_id: wsIds[Math.floor(rand2() * wsIds.length)]!,
          }
    requests.push({
      principal: { type: 'Member', id: pick.principal.id },
      action: PRODUCT_ACTIONS[Math.floor(rand2() * PRODUCT_ACTIONS.length)]!,
      resource: { type: 'Workspace', id: pick.workspace_id },
      context: { model: 'claude-sonnet-4' },
    })
  }
  return {
    name: 'large: 10,000 members, 1,000 workspaces, 20,000 grants',
    id: org,
    requests,
  }
}

function sampleRequests(memberIds: string[], wsIds: string[], seed: number): ProductRequest[] {
  const rand = random(seed)
  return Array.from({ length: SAMPLES }, () => ({
    principal: { type: 'Member' as const, id: memberIds[Math.floor(rand() * memberIds.length)]! },
    action: PRODUCT_ACTIONS[Math.floor(rand() * PRODUCT_ACTIONS.length)]!,
    resource: { type: 'Workspace' as const, id: wsIds[Math.floor(rand() * wsIds.length)]! },
    context: { model: 'claude-sonnet-4' },
  }))
}

// ----- In process ------------------------------------------------------------------------

async function inProcess(db: Db, orgs: Org[]): Promise<BenchTable> {
  // The default options (the revision is re-read at most once a second), as the app runs:
  // `service` answers exact repeats from its decision cache; `firstTime` has none, so every
  // call is a first-time decision (facts cached, Cedar runs).
  const service = new StoreDecisionService(db)
  const firstTime = new StoreDecisionService(db, { maxCachedDecisions: 0 })
  const now = new Date()
  let allowed = 0
  // Warm: every sample's facts read once; then the identical raw calls are captured.
  const raws: cedar.StatefulAuthorizationCall[][] = []
  for (const org of orgs) {
    const raw: cedar.StatefulAuthorizationCall[] = []
    for (const request of org.requests) {
      const decision = await firstTime.authorize(org.id, request, now)
      await service.authorize(org.id, request, now)
      if (decision.decision === 'allow') allowed++
      if (decision.errors.length > 0) throw new Error(JSON.stringify(decision.errors))
      const captured = await service.cedarRequest(org.id, request, now)
      if ('errors' in captured) throw new Error(JSON.stringify(captured.errors))
      raw.push({
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
    raws.push(raw)
  }
  const samples = orgs.map(() => ({
    path: [] as number[],
    raw: [] as number[],
    repeat: [] as number[],
  }))
  // Rounds alternate the organizations and the two paths, so drift in the machine's load
  // falls on all four alike; round 0 is a warm-up (JIT) and is not kept.
  for (let round = 0; round <= ROUNDS; round++) {
    const orgOrder = round % 2 === 0 ? [0, 1] : [1, 0]
    for (const o of orgOrder) {
      const org = orgs[o]!
      const order =
        (round + o) % 2 === 0
          ? (['raw', 'path', 'repeat'] as const)
          : (['repeat', 'path', 'raw'] as const)
      for (const mode of order) {
        if (round === 1) progress(`  ${org.name}: ${mode}`)
        const sink = samples[o]![mode]
        for (let i = 0; i < org.requests.length; i++) {
          const start = process.hrtime.bigint()
          if (mode === 'raw') {
            const answer = cedarInstance().statefulIsAuthorized(raws[o]![i]!)
            if (answer.type !== 'success') throw new Error('raw call failed')
          } else {
            await (mode === 'path' ? firstTime : service).authorize(org.id, org.requests[i]!, now)
          }
          const micros = Number(process.hrtime.bigint() - start) / 1000
          if (round > 0) sink.push(micros)
        }
      }
    }
  }
  const p = (list: number[], q: number) => percentile(list, q)
  const rows: (string | number)[][] = orgs.map((org, o) => {
    const { path, raw, repeat } = samples[o]!
    const entities = raws[o]!.reduce((sum, call) => sum + call.entities.length, 0) / raws[o]!.length
    const ratio = p(path, 50) / p(raw, 50)
    return [
      org.name,
      fmt(p(raw, 50)),
      fmt(p(raw, 99)),
      fmt(p(path, 50)),
      fmt(p(path, 99)),
      `${fmt(ratio, 2)} (≤ 0.5: ${ratio <= 0.5 ? 'pass' : 'FAIL'})`,
      fmt(p(path, 99) / p(raw, 99), 2),
      `${fmt(p(repeat, 50), 1)} (≤ 20: ${p(repeat, 50) <= 20 ? 'pass' : 'FAIL'})`,
      fmt(p(repeat, 99), 1),
      fmt(entities, 1),
    ]
  })
  const pathP50 = samples.map((s) => p(s.path, 50))
  rows.push([
    'large ÷ small (decision path)',
    '',
    '',
    fmt(pathP50[1]! / pathP50[0]!, 2),
    fmt(p(samples[1]!.path, 99) / p(samples[0]!.path, 99), 2),
    '',
    '',
    '',
    '',
    '',
  ])
  return {
    title: 'In-process decision latency (µs), warm cache',
    columns: [
      'organization',
      'raw statefulIsAuthorized p50',
      'raw p99',
      'first-time decision p50',
      'first-time p99',
      'ratio p50 (target)',
      'ratio p99',
      'exact repeat p50 (target µs)',
      'exact repeat p99',
      'entities per request',
    ],
    rows,
    notes: [
      `${SAMPLES} different requests per organization (random members, workspaces and product actions; ${allowed} of ${SAMPLES * orgs.length} allowed), each timed alone, ${ROUNDS} rounds after a warm-up round, alternating organizations and paths. First-time decision = DecisionService.authorize with the default options (revision re-read at most once a second) and no decision cache: facts cached, Cedar runs (by the fast path of engine.ts decideProduct where it applies); exact repeat = the same call with the decision cache, the request decided before at the same revision; raw = cedar.statefulIsAuthorized on the full entities, context, pre-parsed built-in policy set and schema the plain path would use. Targets (issue 12): first-time ratio p50 ≤ 0.5; exact repeat p50 ≤ 20 µs; large ÷ small ≤ 1.5.`,
    ],
  }
}

/** Decisions right after the organization's revision changed: every fact is read again. */
async function coldDecisions(db: Db, orgs: Org[], calls: () => number): Promise<BenchTable> {
  const rows: (string | number)[][] = []
  for (const strict of [false, true]) {
    for (const org of orgs) {
      const service = new StoreDecisionService(db, strict ? { revisionCheckMs: 0 } : {})
      const now = new Date()
      const samples: number[] = []
      let reads = 0
      for (let i = 0; i < COLD_DECISIONS; i++) {
        const request = org.requests[i]!
        if (!strict) await revisions.bump(db, org.id)
        else await service.authorize(org.id, request, now) // warm, then one timed decision
        const before = calls()
        const start = process.hrtime.bigint()
        await service.authorize(org.id, request, now)
        samples.push(Number(process.hrtime.bigint() - start) / 1000)
        reads += calls() - before
      }
      rows.push([
        strict
          ? `${org.name}: revision read before every decision (DECISION_REVISION_CHECK_MS=0), warm facts`
          : `${org.name}: first decision after a change`,
        fmt(percentile(samples, 50)),
        fmt(percentile(samples, 99)),
        fmt(reads / COLD_DECISIONS, 2),
      ])
    }
  }
  return {
    title: 'Decisions that read the store (µs, embedded dynalite in its own process)',
    columns: ['case', 'p50', 'p99', 'DynamoDB requests per decision'],
    rows,
    notes: [
      "After a change the organization's cached facts are dropped: the next decision reads the revision (GetItem), then the organization, workspace, budget state, member, seats and the member's grant in one BatchGetItem, then one BatchGetItem per nesting level of its groups (with their grants). The count depends on the member's groups, not on the organization's size. The second pair shows the price of checking the revision on every decision (the strict setting).",
    ],
  }
}

// ----- HTTP ------------------------------------------------------------------------------

interface Load {
  name: string
  decisionsPerRequest: number
  requests: {
    method: 'GET' | 'POST'
    path: string
    headers?: Record<string, string>
    body?: string
  }[]
}

async function overHttp(ctx: ServiceContext, endpoint: string, orgs: Org[]): Promise<BenchTable> {
  const service = await createServiceKey(ctx, 'bench')
  const server = await startApiServer(endpoint, generateSecret('operator'), TABLE)
  const headers = { authorization: `Bearer ${service.secret}`, 'content-type': 'application/json' }
  const body = (org: Org, request: ProductRequest) => ({ organization_id: org.id, ...request })
  const large = orgs[1]!
  const loads: Load[] = [
    {
      name: 'baseline: GET /health (no credential, no store)',
      decisionsPerRequest: 0,
      requests: [{ method: 'GET', path: '/health' }],
    },
    ...orgs.map((org) => ({
      name: `POST /v1/authorize, ${org.name}`,
      decisionsPerRequest: 1,
      requests: org.requests.map((request) => ({
        method: 'POST' as const,
        path: '/v1/authorize',
        headers,
        body: JSON.stringify(body(org, request)),
      })),
    })),
    {
      name: `POST /v1/authorize/batch (100 per request), ${large.name}`,
      decisionsPerRequest: 100,
      requests: Array.from({ length: 10 }, (_, i) => ({
        method: 'POST' as const,
        path: '/v1/authorize/batch',
        headers,
        body: JSON.stringify({
          organization_id: large.id,
          requests: large.requests.slice(i * 100, i * 100 + 100),
        }),
      })),
    },
  ]
  const rows: (string | number)[][] = []
  try {
    for (const load of loads) {
      // Warm-up pass (caches, JIT), then the measured one.
      await cannon(server.url, load, 2)
      const result = await cannon(server.url, load, HTTP_SECONDS)
      if (result.non2xx > 0 || result.errors > 0) {
        throw new Error(`${load.name}: ${result.non2xx} non-2xx, ${result.errors} errors`)
      }
      rows.push([
        load.name,
        fmt(result.requests.average, 0),
        load.decisionsPerRequest ? fmt(result.requests.average * load.decisionsPerRequest, 0) : '',
        fmt(result.latency.p50, 1),
        fmt(result.latency.p99, 1),
      ])
    }
  } finally {
    await server.stop()
  }
  return {
    title: 'HTTP decisions per second (local server, autocannon)',
    columns: ['load', 'requests/s', 'decisions/s', 'latency p50 ms', 'latency p99 ms'],
    rows,
    notes: [
      `autocannon, ${HTTP_CONNECTIONS} connections, ${HTTP_SECONDS} s per row after a 2 s warm-up, cycling through ${SAMPLES} different decision requests (the batch row through 10 bodies of 100). The server is \`functions/entry/local-server.ts\` in a child process on port 0, the embedded store (dynalite) in another, autocannon in this one. Keys are authenticated from a credential cache (at most a second old) and repeated decisions come from the decision cache, so warm rows make no store request (bench suite http counts them).`,
    ],
  }
}

function cannon(url: string, load: Load, seconds: number) {
  return autocannon({
    url,
    connections: HTTP_CONNECTIONS,
    duration: seconds,
    requests: load.requests,
  })
}

const suite: BenchSuite = { name: 'Product decisions', run }
export default suite
