import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { contractErrorProblems, scimErrorProblems } from './helpers/contract-errors.js'
import {
  type Base,
  bodyMutations,
  bodyOf,
  build,
  expectedStatuses,
  headerMutations,
  type Mutation,
  overlaps,
  type PathKey,
  pathMutations,
  queryMutations,
  ULID,
} from './helpers/malformations.js'
import {
  type JsonSchema,
  type Operation,
  openApiOperations,
  registeredRoutes,
  scimOperations,
} from './helpers/openapi-routes.js'
import { scimAttributeValue, validValue } from './helpers/schema-values.js'
import {
  issuedCursors,
  populateTenant,
  snapshotTenant,
  startRecordingHarness,
  tenantPathValues,
} from './helpers/tenant-fixture.js'
import { createServiceKey } from './helpers/usage.js'

/**
 * Robustness: malformed requests to every operation of the served OpenAPI document and every
 * SCIM endpoint, with every kind of credential. Whatever the input: no 5xx, every error in the
 * contract's shape (SCIM's Error schema under /scim/v2), a malformed request is refused (4xx)
 * and writes nothing. Seeded: FUZZ_SEED=<n> replays a run (each failure names the seed).
 */

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : (Math.random() * 2 ** 31) | 0
/** Cases per operation: ~100 operations × 40 ≈ 4,000 requests, in seconds. */
const RUNS_PER_OPERATION = 40
const MIN_REQUESTS = 2_000
/**
 * FUZZ_SURVEY=1 runs every case of every operation instead of stopping at an operation's
 * first failure, and prints the failures grouped by problem (for triage; the suite still fails).
 */
const SURVEY = process.env.FUZZ_SURVEY === '1'
const surveyed: { op: string; problems: string[]; detail: string }[] = []
/** Bodies stay under the 1 MiB limit: a 413 is not what these cases probe. */
const MAX_BODY_BYTES = 1_000_000

const { h, writes, scan } = await startRecordingHarness()
afterAll(() => h.close())
const serviceKey = await createServiceKey(h)
const victim = await populateTenant(h, 'Victim', serviceKey)
const { operations: documented, components } = await openApiOperations(h)
const operations = [...documented, ...(await scimOperations(h, victim.keys.scim))]
await issuedCursors(h, documented, victim)
victim.ids['service-keys'] = [
  (await h.call('GET', '/v1/service-keys', { key: h.operatorKey })).body.data[0].id,
]
const snapshotBefore = await snapshotTenant(h, operations, victim)
const tableBefore = sortItems(await scan())
const now = h.clock.now()

/** Credentials by kind; the last group is never valid anywhere. */
const CREDENTIALS: Record<string, string | undefined> = {
  operator: `Bearer ${h.operatorKey}`,
  service: `Bearer ${serviceKey}`,
  admin: `Bearer ${victim.keys.admin}`,
  billing_manager: `Bearer ${victim.keys.billing}`,
  member: `Bearer ${victim.keys.member}`,
  scim: `Bearer ${victim.keys.scim}`,
  workspace_key: `Bearer ${victim.keys.workspace}`,
  revoked_admin: `Bearer ${victim.keys.revokedAdmin}`,
  none: undefined,
  unknown_admin: `Bearer adm_${'A'.repeat(43)}`,
  basic: 'Basic dXNlcjpwYXNz',
  empty_bearer: 'Bearer ',
  two_tokens: `Bearer ${victim.keys.admin} ${victim.keys.admin}`,
  huge: `Bearer adm_${'x'.repeat(6000)}`,
}
const INVALID_CREDENTIALS = [
  'revoked_admin',
  'none',
  'unknown_admin',
  'basic',
  'empty_bearer',
  'two_tokens',
  'huge',
]
/** Path ids a caller chooses (PUT creates): only a syntactically bad one is malformed. */
const CALLER_CHOSEN = new Map([['PUT /v1/policies/{id}', /^[a-z0-9-]{1,64}$/]])
/**
 * Arrays whose items the route checks one by one (documented: a bad item is refused alone in a
 * 200): a malformed item is not a malformed request, though it must still write nothing.
 */
const PER_ITEM = new Map([
  ['POST /v1/authorize/batch', 'requests'],
  ['POST /v1/usage/events', 'events'],
])
/** Credentials that are valid somewhere; which ones an operation admits is probed. */
const VALID_CREDENTIALS = Object.keys(CREDENTIALS).filter((k) => !INVALID_CREDENTIALS.includes(k))

/** Credential kinds no role limits (an org_admin admin key holds every Admin permission). */
const FULL_POWER = ['admin', 'operator', 'service', 'scim']

// ----- One request ---------------------------------------------------------------------

interface Case {
  primary: Mutation | undefined
  noise: Mutation[]
  credential: string
  fallbackCredential: string
}

let requests = 0

async function run(op: Operation, base: Base, admitted: string[], c: Case) {
  const mutations = [
    ...c.noise.filter((m) => !c.primary || !overlaps(m, c.primary)),
    ...(c.primary ? [c.primary] : []),
  ]
  let applied = mutations
  let request = build(op, base, applied, now)
  if (Buffer.byteLength(request.text ?? '') > MAX_BODY_BYTES) {
    applied = c.primary ? [c.primary] : []
    request = build(op, base, applied, now)
  }
  // An empty body sent without a content type is no body at all (a PATCH of nothing, say):
  // neither its emptiness nor the missing content type is a malformation then.
  const noBody = !request.text && !request.headers['content-type']
  const invalidInput = applied.some(
    (m) => m.invalid && !(noBody && (m.kind === 'raw-body' || m.kind === 'content-type'))
  )
  const credentialKind =
    !invalidInput && op.secured && op.method !== 'GET' ? c.fallbackCredential : c.credential
  const authorization = CREDENTIALS[credentialKind]
  if (authorization) request.headers.authorization = authorization
  const invalid = invalidInput || (op.secured && INVALID_CREDENTIALS.includes(credentialKind))
  const mark = writes.mark()
  requests++
  const problems: string[] = []
  let status = 0
  let responseText = ''
  try {
    const response = await h.app.request(request.url, {
      method: op.method,
      headers: request.headers,
      ...(request.text !== undefined && op.method !== 'GET' ? { body: bodyOf(request) } : {}),
    })
    status = response.status
    responseText = await response.text()
    const seen = { status, headers: response.headers, text: responseText }
    if (status >= 500) problems.push(`answered ${status}`)
    if (invalid && status < 400) problems.push(`malformed request answered ${status}`)
    // Malformed in one way only (no other change), by a credential that may do everything the
    // route does: nothing else can stop it first, so the answer names that malformation.
    const malformations = applied.filter((m) => m.invalid)
    if (
      applied.length === 1 &&
      malformations.length === 1 &&
      FULL_POWER.includes(credentialKind) &&
      admitted.includes(credentialKind)
    ) {
      const expected = expectedStatuses(op, malformations[0]!)
      if (!expected.includes(status)) {
        problems.push(
          `${malformations[0]!.why} should answer ${expected.join(' or ')}, not ${status}`
        )
      }
    }
    if (!response.headers.get('x-request-id')) problems.push('no x-request-id')
    if (status >= 400)
      problems.push(...(op.scim ? scimErrorProblems(seen) : contractErrorProblems(seen)))
    if (!op.scim && op.statuses.length > 0 && !op.statuses.includes(status)) {
      problems.push(`status ${status} is not documented for ${op.key} (${op.statuses.join(', ')})`)
    }
  } catch (error) {
    problems.push(`threw ${(error as Error).stack ?? error}`)
  }
  const written = writes.since(mark)
  if (written.length > 0)
    problems.push(`wrote ${written.map((w) => `${w.command} ${w.key}`).join(', ')}`)
  if (problems.length > 0) {
    if (SURVEY) {
      surveyed.push({
        op: op.key,
        problems,
        detail: `${op.method} ${request.url.slice(0, 200)} as ${credentialKind} [${applied.map((m) => m.why).join('; ')}] → ${status} ${responseText.slice(0, 200)}`,
      })
      return
    }
    const shown =
      (request.text ?? '').length > 300
        ? `${request.text!.slice(0, 300)}… (${request.text!.length} chars)`
        : request.text
    throw new Error(
      `${op.method} ${request.url.slice(0, 300)} as ${credentialKind} [${applied.map((m) => m.why).join('; ')}]\n` +
        `  headers ${JSON.stringify({ ...request.headers, authorization: undefined })}\n  body ${JSON.stringify(shown)}\n` +
        `  → ${status} ${responseText.slice(0, 400)}\n  ${problems.join('\n  ')}`
    )
  }
}

/**
 * The credential kinds an operation lets through to input checking: those a request with
 * one malformed input (or none, for a read) does not answer with 401/403. Most cases use
 * one of them, so that they probe validation rather than authentication.
 */
async function admittedCredentials(op: Operation, base: Base): Promise<string[]> {
  const p = op.pathParams[0]
  const probe: Mutation | undefined = op.body
    ? { kind: 'raw-body', text: '{', invalid: true, why: 'probe' }
    : p && !CALLER_CHOSEN.has(op.key)
      ? { kind: 'path', name: p.name, value: `x_${ULID}`, raw: false, invalid: true, why: 'probe' }
      : undefined
  if (!probe && op.method !== 'GET') return []
  const admitted: string[] = []
  for (const kind of VALID_CREDENTIALS) {
    const request = build(op, base, probe ? [probe] : [], now)
    const res = await h.app.request(request.url, {
      method: op.method,
      headers: { ...request.headers, authorization: CREDENTIALS[kind]! },
      ...(request.text !== undefined ? { body: bodyOf(request) } : {}),
    })
    if (res.status !== 401 && res.status !== 403) admitted.push(kind)
  }
  return admitted
}

function caseArbitrary(op: Operation, base: Base, admitted: string[]): fc.Arbitrary<Case> {
  const body = bodyMutations(op, base.body, PER_ITEM.get(op.key))
  const query = queryMutations(op, victim)
  const invalid = [
    ...body.invalid,
    ...pathMutations(op, base.path, victim, CALLER_CHOSEN.get(op.key)),
    ...query.invalid,
    ...headerMutations(op),
  ]
  const noise = [...body.noise, ...query.noise]
  const anything = [...invalid, ...noise]
  return fc.record({
    primary: invalid.length > 0 ? fc.oneof(...invalid) : fc.constant(undefined),
    noise:
      anything.length > 0 ? fc.array(fc.oneof(...anything), { maxLength: 2 }) : fc.constant([]),
    credential:
      admitted.length > 0
        ? fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom(...admitted) },
            { weight: 1, arbitrary: fc.constantFrom(...Object.keys(CREDENTIALS)) }
          )
        : fc.constantFrom(...Object.keys(CREDENTIALS)),
    fallbackCredential: fc.constantFrom(...INVALID_CREDENTIALS),
  })
}

function baseRequest(op: Operation) {
  const path = tenantPathValues(op, victim, now)
  const named = (path: PathKey, _schema: JsonSchema, parent: Record<string, unknown>) => {
    const name = String(path.at(-1))
    if (name === 'organization_id') return victim.id
    if (name === 'workspace_id') return victim.ids.workspaces![0]
    if (name === 'member_id') return victim.ids.members![0]
    if (name === 'api_key_id') return victim.ids['api-keys']![0]
    if (name === 'id' && parent.type === 'Member') return victim.ids.members![0]
    if (name === 'id' && parent.type === 'Workspace') return victim.ids.workspaces![0]
    if (op.scim && name === 'value' && path.includes('members')) return victim.ids.Users![0]
    return op.scim ? scimAttributeValue(path) : undefined
  }
  const body = op.body ? validValue(op.body, { now, named, components }) : undefined
  return { body, path }
}

function hash(text: string): number {
  let value = 0
  for (const char of text) value = (Math.imul(value, 31) + char.charCodeAt(0)) | 0
  return value
}

describe(`robustness fuzz (FUZZ_SEED=${SEED})`, () => {
  it('every route the app serves is in the OpenAPI document or a SCIM discovery document', () => {
    const described = new Set(operations.map((op) => op.key))
    // Not API routes: the description itself, its viewer, and the browser console's files.
    const system = new Set([
      'GET /openapi.json',
      'GET /docs',
      'GET /console',
      'GET /console/',
      'GET /console/assets/{name}',
    ])
    const undescribed = registeredRoutes(h.app).filter(
      (key) => !described.has(key) && !system.has(key)
    )
    expect(undescribed).toEqual([])
    expect(operations.filter((op) => op.scim).length).toBeGreaterThanOrEqual(12)
  })

  it.each(operations.map((op) => [op.key, op] as const))('%s', async (_key, op) => {
    const base = baseRequest(op)
    const admitted = await admittedCredentials(op, base)
    const seed = (SEED ^ hash(op.key)) | 0
    try {
      await fc.assert(
        fc.asyncProperty(caseArbitrary(op, base, admitted), (c) => run(op, base, admitted, c)),
        { seed, numRuns: RUNS_PER_OPERATION, includeErrorInReport: true }
      )
    } catch (error) {
      throw new Error(`Reproduce with FUZZ_SEED=${SEED}.\n${(error as Error).message}`)
    }
  })

  it(`sent at least ${MIN_REQUESTS} malformed requests, and nothing changed`, async () => {
    if (SURVEY) {
      const byProblem = new Map<string, { ops: Map<string, string> }>()
      for (const s of surveyed) {
        for (const problem of s.problems) {
          const kind = problem.replace(/\{"PK".*$/, '…').slice(0, 160)
          const entry = byProblem.get(kind) ?? { ops: new Map<string, string>() }
          if (!entry.ops.has(s.op)) entry.ops.set(s.op, s.detail)
          byProblem.set(kind, entry)
        }
      }
      for (const [problem, { ops }] of byProblem) {
        console.info(`${problem}\n${[...ops.values()].map((e) => `  ${e}`).join('\n')}`)
      }
    }
    console.info(
      `robustness fuzz: ${requests} requests over ${operations.length} operations, FUZZ_SEED=${SEED}`
    )
    expect(requests).toBeGreaterThanOrEqual(MIN_REQUESTS)
    const after = await snapshotTenant(h, operations, victim)
    expect(after.auditCount).toBe(snapshotBefore.auditCount)
    for (const key of Object.keys(snapshotBefore.reads)) {
      expect(after.reads[key], key).toBe(snapshotBefore.reads[key])
    }
    expect(sortItems(await scan())).toEqual(tableBefore)
    expect(surveyed).toEqual([])
  })
})

/** The table's items in a canonical order and spelling, to compare two scans. */
function sortItems(items: Record<string, unknown>[]): string[] {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value && typeof value === 'object'
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((key) => [key, canonical((value as Record<string, unknown>)[key])])
          )
        : value
  return items.map((item) => JSON.stringify(canonical(item))).sort()
}
