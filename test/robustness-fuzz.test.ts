import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { contractErrorProblems, scimErrorProblems } from './helpers/contract-errors.js'
import {
  admitsType,
  collectionOf,
  fillPath,
  type JsonSchema,
  type Operation,
  openApiOperations,
  registeredRoutes,
  scimOperations,
  typesOf,
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

// ----- Mutations ----------------------------------------------------------------------------

type PathKey = (string | number)[]
type Mutation = { why: string; invalid: boolean } & (
  | { kind: 'set'; path: PathKey; value: unknown }
  | { kind: 'delete'; path: PathKey }
  | { kind: 'raw-body'; text: string }
  | { kind: 'content-type'; value: string | null }
  | { kind: 'path'; name: string; value: string; raw: boolean }
  | { kind: 'query'; name: string; value: string | null; raw?: boolean }
  | { kind: 'header'; name: string; value: string }
)

interface Node {
  path: PathKey
  schema: JsonSchema
  required: boolean
  /** The object's schema forbids other keys. */
  closed: boolean
}

/** The properties and objects of a body value, beside the schema that describes each. */
function nodesOf(schema: JsonSchema, value: unknown, path: PathKey = [], required = true): Node[] {
  const nodes: Node[] = [{ path, schema, required, closed: schema.additionalProperties === false }]
  if (Array.isArray(value) && value.length > 0 && schema.items) {
    nodes.push(...nodesOf(schema.items, value[0], [...path, 0], true))
  } else if (value && typeof value === 'object' && schema.properties) {
    for (const [name, property] of Object.entries<JsonSchema>(schema.properties)) {
      if (!(name in (value as object))) continue
      const needed = ((schema.required ?? []) as string[]).includes(name)
      nodes.push(
        ...nodesOf(property, (value as Record<string, unknown>)[name], [...path, name], needed)
      )
    }
  }
  return nodes
}

const DEEP = '\u0000DEEP'
const deep = (depth: number, shape: 'array' | 'object') =>
  shape === 'array'
    ? `${'['.repeat(depth)}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
const WRONG_VALUES: unknown[] = [0, -1, 1.5, true, false, null, 'str', [], [1, 2], {}, { a: 1 }]
const LONE_SURROGATES = ['\ud800', '\udfff', 'a\udc00b', '\ud83d', 'x\ud800\ud800']
const INVALID_JSON = [
  '{',
  '{"a":',
  "{'a':1}",
  '{"name":"x",}',
  'NaN',
  '',
  '\u0000',
  '{"a":1}xyz',
  '\ufeff{}',
  'null',
  '"str"',
  '123',
  '[]',
  'true',
  '{"a":1e99999}x',
  '{"\\ud800":1',
]
const WRONG_CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/jsonx',
  'text/json',
  'json',
]

function bodyMutations(
  op: Operation,
  base: unknown
): { invalid: fc.Arbitrary<Mutation>[]; noise: fc.Arbitrary<Mutation>[] } {
  const invalid: fc.Arbitrary<Mutation>[] = []
  const noise: fc.Arbitrary<Mutation>[] = []
  if (!op.body) return { invalid, noise }
  const add = (isInvalid: boolean, arb: fc.Arbitrary<Mutation>) =>
    (isInvalid ? invalid : noise).push(arb)
  const nodes = nodesOf(op.body, base)
  const properties = nodes.filter((n) => n.path.length > 0)
  // SCIM is lenient where identity providers differ (types of optional attributes, unknown
  // attributes): only what RFC 7643 requires is malformed there.
  const perItem = PER_ITEM.get(op.key)
  const itemLevel = (n: Node) => Boolean(perItem && n.path[0] === perItem && n.path.length >= 2)
  const strict = (n: Node) =>
    (!op.scim || (n.required && n.path.length === 1 && n.path[0] !== 'schemas')) && !itemLevel(n)
  for (const n of properties) {
    const wrong = WRONG_VALUES.filter(
      (v) =>
        !admitsType(n.schema, v) ||
        (n.schema.enum && typeof v === 'string' && !n.schema.enum.includes(v))
    ).filter((v) => typeof v !== 'string' || n.schema.enum)
    if (typesOf(n.schema).length > 0 && wrong.length > 0) {
      add(
        strict(n),
        fc.constantFrom(...wrong).map((value) => ({
          kind: 'set',
          path: n.path,
          value,
          invalid: strict(n),
          why: `wrong type at ${n.path.join('.')}`,
        }))
      )
    }
    if (n.required && typeof n.path.at(-1) === 'string') {
      add(
        strict(n),
        fc.constant({
          kind: 'delete',
          path: n.path,
          invalid: strict(n),
          why: `missing required ${n.path.join('.')}`,
        })
      )
    }
    if (typesOf(n.schema).includes('string')) {
      const max = typeof n.schema.maxLength === 'number' ? n.schema.maxLength : undefined
      const lengths = fc.oneof(
        fc.integer({ min: (max ?? 1000) + 1, max: (max ?? 1000) + 3000 }),
        fc.constantFrom(100_000, 300_000)
      )
      // JSON Schema counts characters (code points); the body stays under 1 MiB.
      const huge = lengths.chain((length) =>
        fc.constantFrom('a', 'é', '😀').map((char): Mutation => {
          const count = Math.min(length, Math.floor(900_000 / Buffer.byteLength(char)))
          const tooLong = max !== undefined && count > max
          return {
            kind: 'set',
            path: n.path,
            value: char.repeat(count),
            invalid: tooLong && strict(n),
            why: `${count} × ${char} at ${n.path.join('.')}`,
          }
        })
      )
      add(max !== undefined && strict(n), huge)
      add(
        !itemLevel(n),
        fc.constantFrom(...LONE_SURROGATES).map((s) => ({
          kind: 'set',
          path: n.path,
          value: `id${s}`,
          invalid: !itemLevel(n),
          why: `lone surrogate at ${n.path.join('.')}`,
        }))
      )
    }
    const wantsContainer = admitsType(n.schema, []) || admitsType(n.schema, {})
    add(
      !wantsContainer && strict(n),
      fc
        .record({
          depth: fc.integer({ min: 64, max: 12_000 }),
          shape: fc.constantFrom('array' as const, 'object' as const),
        })
        .map(({ depth, shape }) => ({
          kind: 'set',
          path: n.path,
          value: `${DEEP}:${depth}:${shape}`,
          invalid: !admitsType(n.schema, shape === 'array' ? [] : {}) && strict(n),
          why: `${shape}s nested ${depth} deep at ${n.path.join('.')}`,
        }))
    )
  }
  for (const n of nodes.filter((n) => n.schema.properties)) {
    add(
      n.closed && !op.scim && !itemLevel(n),
      fc
        .constantFrom('unknown_field', '__proto__', 'constructor', 'x'.repeat(300), 'é')
        .map((key) => ({
          kind: 'set',
          path: [...n.path, key],
          value: 1,
          invalid: n.closed && !op.scim && !itemLevel(n),
          why: `unknown key ${key.slice(0, 20)} in ${n.path.join('.') || 'body'}`,
        }))
    )
  }
  add(
    true,
    fc.constantFrom(...INVALID_JSON).map((text) => ({
      kind: 'raw-body',
      text,
      invalid: true,
      why: `body ${JSON.stringify(text)}`,
    }))
  )
  add(
    true,
    fc.nat().map((cut) => {
      const text = JSON.stringify(base)
      return {
        kind: 'raw-body',
        text: text.slice(0, cut % text.length),
        invalid: true,
        why: 'truncated JSON',
      }
    })
  )
  add(
    true,
    fc.integer({ min: 64, max: 20_000 }).map((depth) => ({
      kind: 'raw-body',
      text: deep(depth, 'array'),
      invalid: true,
      why: `body nested ${depth} deep`,
    }))
  )
  add(
    true,
    fc.constantFrom(...WRONG_CONTENT_TYPES).map((value) => ({
      kind: 'content-type',
      value,
      invalid: true,
      why: `content-type ${value}`,
    }))
  )
  add(
    !op.scim,
    fc.constant({ kind: 'content-type', value: null, invalid: !op.scim, why: 'no content-type' })
  )
  return { invalid, noise }
}

const ULID = '01J0000000000000000000ZZZZ'
/** Collections that hold the same resources (SCIM Users are members, subgroups are groups). */
const ALIASES = [
  ['members', 'Users'],
  ['groups', 'subgroups', 'Groups'],
]
function pathMutations(op: Operation, values: Record<string, string>): fc.Arbitrary<Mutation>[] {
  const out: fc.Arbitrary<Mutation>[] = []
  const syntax = CALLER_CHOSEN.get(op.key)
  for (const param of op.pathParams) {
    const real = values[param.name]!
    const prefix = /^([a-z]+_)/.exec(real)?.[1] ?? ''
    const collection = collectionOf(op.path, param.name)
    const alias = ALIASES.find((names) => names.includes(collection)) ?? [collection]
    const own = new Set(alias.flatMap((name) => victim.ids[name] ?? []))
    // Real ids of other kinds (SCIM Users are members: the same ids under two names).
    const others = Object.values(victim.ids)
      .flat()
      .filter((id) => !own.has(id))
    const candidates = (
      [
        [`${prefix}${ULID}`, false],
        [`${prefix}${real.slice(prefix.length).toLowerCase()}`, false],
        [`${real}x`, false],
        [real.toUpperCase(), false],
        ['x'.repeat(101), false],
        ['x'.repeat(1500), false],
        [`${prefix}${'9'.repeat(5000)}`, false],
        [`${prefix}é`, false],
        ['😀', false],
        ['\u202e\u0000', false],
        [`${real} `, false],
        ['%E0%A4%A', true],
        ['%', true],
        ['%zz', true],
        ['a%2Fb', true],
        ...others.slice(0, 6).map((id): [string, boolean] => [id, false]),
      ] as [string, boolean][]
    ).filter(([value]) => value !== real)
    out.push(
      fc.constantFrom(...candidates).map(([value, raw]) => ({
        kind: 'path',
        name: param.name,
        value,
        raw,
        invalid: syntax ? !syntax.test(value) : true,
        why: `path ${param.name}=${value.slice(0, 40)}`,
      }))
    )
  }
  return out
}

function queryMutations(op: Operation): {
  invalid: fc.Arbitrary<Mutation>[]
  noise: fc.Arbitrary<Mutation>[]
} {
  const invalid: fc.Arbitrary<Mutation>[] = []
  const noise: fc.Arbitrary<Mutation>[] = []
  const q = (name: string, values: string[], isInvalid: boolean, raw = false) =>
    (isInvalid ? invalid : noise).push(
      fc.constantFrom(...values).map((value) => ({
        kind: 'query',
        name,
        value,
        raw,
        invalid: isInvalid,
        why: `?${name}=${value.slice(0, 40)}`,
      }))
    )
  for (const p of op.query) {
    const s = p.schema
    const types = typesOf(s)
    if (p.required)
      invalid.push(
        fc.constant({
          kind: 'query',
          name: p.name,
          value: null,
          invalid: true,
          why: `missing ?${p.name}`,
        })
      )
    if (p.name === 'after' || p.name === 'page') {
      const own = victim.cursors[op.key]
      const issued = [...(own ? [own] : []), ...Object.values(victim.cursors)]
      const tampered = [...new Set(issued)].slice(0, 3).flatMap(tamperings)
      const forged = Buffer.from(
        JSON.stringify({ l: 'x', k: { PK: victim.id, SK: 'x' } })
      ).toString('base64url')
      // A cursor another list issued is not one this list issued either.
      const foreign = Object.entries(victim.cursors)
        .filter(([key]) => key !== op.key)
        .map(([, c]) => c)
      q(
        p.name,
        ['abc', '!!!', '\u00e9', forged, 'x'.repeat(5000), ...tampered, ...foreign.slice(0, 3)],
        true
      )
    } else if (types.includes('integer') && op.scim) {
      q(p.name, ['abc', '1.5', '1e3', '0x10', '1 2'], true)
    } else if (types.includes('integer')) {
      const values = ['abc', '1.5', '', ' ', '1e309', '-0x1', String((s.minimum ?? 1) - 1)]
      if (typeof s.maximum === 'number') values.push(String(s.maximum + 1))
      q(p.name, values, true)
    } else if (s.format === 'date-time') {
      q(
        p.name,
        [
          'yesterday',
          '2026-13-45T00:00:00Z',
          '1700000000',
          '2026-01-01',
          '',
          '2026-11-27T10:00:00',
          '2026-11-27T25:00:00Z',
        ],
        true
      )
    } else if (s.enum) {
      q(p.name, ['bogus', String(s.enum[0]).toUpperCase(), '', `${s.enum[0]} `], true)
    } else if (typeof s.maxLength === 'number' || (s.minLength ?? 0) > 0) {
      q(
        p.name,
        [
          ...(s.maxLength ? ['x'.repeat(s.maxLength + 1)] : []),
          ...((s.minLength ?? 0) > 0 ? [''] : []),
        ],
        true
      )
    }
    if (op.scim && p.name === 'filter') {
      q(
        p.name,
        [
          'userName eq',
          '((((',
          'foo bar baz',
          'userName eq "x" and',
          'userName xx "a"',
          'emails[type eq "work"',
          `${'('.repeat(2000)}userName eq "a"${')'.repeat(2000)}`,
          'active eq "yes"',
          'meta.created gt "not-a-date"',
        ],
        true
      )
    }
    // Values a well-typed parameter may hold: they must not crash anything.
    q(
      p.name,
      [
        'x'.repeat(5000),
        '😀',
        '%ED%A0%80',
        '%00',
        victim.id,
        'a,b,,c',
        `userName eq "${'a'.repeat(3000)}"`,
      ],
      false,
      true
    )
  }
  noise.push(
    fc.constantFrom('unknown_param', 'limit', 'LIMIT', '__proto__').map((name) => ({
      kind: 'query',
      name: `${name}`,
      value: '1',
      invalid: false,
      why: `extra ?${name}`,
    }))
  )
  return { invalid, noise }
}

/**
 * Cursors that look issued but were not: a character flipped, truncated or extended, and, when
 * the cursor decodes to JSON, a leaf dropped, retyped or added (without knowing its fields).
 */
function tamperings(cursor: string): string[] {
  const out = [`${cursor}A`, cursor.slice(0, -2)]
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8')
  const encode = (text: string) => Buffer.from(text).toString('base64url')
  out.push(encode(decoded.replace(/[A-Z0-9](?=[^A-Z0-9]*$)/, (c) => (c === 'Z' ? 'Y' : 'Z'))))
  let json: unknown
  try {
    json = JSON.parse(decoded)
  } catch {
    return out
  }
  // The innermost object holding a string: its last string leaf is the one tampered with.
  const find = (node: unknown): Record<string, unknown> | undefined => {
    if (!node || typeof node !== 'object') return undefined
    for (const value of Object.values(node).reverse()) {
      const inner = find(value)
      if (inner) return inner
    }
    return Object.values(node).some((v) => typeof v === 'string')
      ? (node as Record<string, unknown>)
      : undefined
  }
  const variant = (change: (target: Record<string, unknown>, key: string) => void) => {
    const copy = structuredClone(json)
    const target = find(copy)
    const key =
      target &&
      Object.keys(target)
        .filter((k) => typeof target[k] === 'string')
        .at(-1)
    if (!target || !key) return
    change(target, key)
    out.push(encode(JSON.stringify(copy)))
  }
  variant((t, k) => delete t[k])
  variant((t, k) => (t[k] = 42))
  variant((t) => (t.extra = 'x'))
  variant((t, k) => (t[k] = ''))
  return out
}

function headerMutations(op: Operation): fc.Arbitrary<Mutation>[] {
  const out: fc.Arbitrary<Mutation>[] = []
  const declares = (name: string) => op.headers.some((p) => p.name === name)
  if (declares('if-match')) {
    out.push(
      fc
        .constantFrom(
          'garbage',
          '"nope"',
          'W/"x"',
          '"99999"',
          '"0"',
          '""',
          'W/',
          `"${'9'.repeat(400)}"`,
          '"-1"'
        )
        .map((value) => ({
          kind: 'header',
          name: 'if-match',
          value,
          invalid: true,
          why: `If-Match: ${value.slice(0, 20)}`,
        }))
    )
  }
  if (declares('idempotency-key')) {
    out.push(
      fc.constantFrom('', 'k'.repeat(256), 'k'.repeat(4000)).map((value) => ({
        kind: 'header',
        name: 'idempotency-key',
        value,
        invalid: true,
        why: `Idempotency-Key of ${value.length}`,
      }))
    )
  }
  return out
}

/** A string body gets a text/plain content type from fetch; bytes go without one. */
function bodyOf(request: { headers: Record<string, string>; text?: string | undefined }) {
  return request.headers['content-type'] ? request.text : new TextEncoder().encode(request.text)
}

/** Credential kinds no role limits (an org_admin admin key holds every Admin permission). */
const FULL_POWER = ['admin', 'operator', 'service', 'scim']

/** What a request malformed in exactly this way answers (the contract's status for it). */
function expectedStatuses(op: Operation, m: Mutation): number[] {
  switch (m.kind) {
    case 'content-type':
      return [415]
    case 'raw-body':
    case 'query':
      return [400]
    case 'set':
    case 'delete':
      return op.scim ? [400] : [400, 422]
    case 'path':
      // An id that names nothing of the organization's is not found; one no id can be, invalid.
      return op.pathParams.find((p) => p.name === m.name)?.schema.enum ? [400] : [400, 404]
    case 'header':
      // A well-formed entity tag that does not match is a failed precondition (412).
      return m.name === 'if-match' && /^(W\/)?"[^"]*"$/.test(m.value) ? [412] : [400]
  }
}

// ----- One request ------------------------------------------------------------------------

interface Base {
  body: unknown
  path: Record<string, string>
}

interface Case {
  primary: Mutation | undefined
  noise: Mutation[]
  credential: string
  fallbackCredential: string
}

let requests = 0

function setAt(target: unknown, path: PathKey, value: unknown, remove: boolean): unknown {
  if (path.length === 0) return remove ? undefined : value
  let node = target as Record<string | number, unknown>
  for (const key of path.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object') node[key] = {}
    node = node[key] as Record<string | number, unknown>
  }
  const last = path.at(-1)!
  if (remove) delete node[last]
  else
    Object.defineProperty(node, last, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  return target
}

/** Two mutations that edit the same thing (the later one would undo the earlier). */
function overlaps(a: Mutation, b: Mutation): boolean {
  const target = (m: Mutation) =>
    m.kind === 'set' || m.kind === 'delete'
      ? `body:${JSON.stringify(m.path)}`
      : m.kind === 'raw-body'
        ? 'body:'
        : `${m.kind}:${'name' in m ? m.name : ''}`
  const [x, y] = [target(a), target(b)]
  if (x.startsWith('body:') && y.startsWith('body:')) {
    const [p, q] = [x.slice(5, -1), y.slice(5, -1)]
    return p.startsWith(q) || q.startsWith(p)
  }
  return x === y
}

function build(op: Operation, base: Base, applied: Mutation[]) {
  let body = op.body ? structuredClone(base.body) : undefined
  let raw: string | undefined
  let contentType: string | null = op.body
    ? op.scim
      ? 'application/scim+json'
      : 'application/json'
    : null
  const path = { ...base.path }
  const rawParams = new Set<string>()
  const query = new Map<string, { value: string; raw: boolean }>()
  for (const p of op.query.filter((p) => p.required))
    query.set(p.name, { value: String(validValue(p.schema, { now }, [p.name])), raw: false })
  const headers: Record<string, string> = {
    accept: op.scim ? 'application/scim+json' : 'application/json',
  }
  for (const m of applied) {
    if (m.kind === 'set') body = setAt(body, m.path, m.value, false)
    else if (m.kind === 'delete') body = setAt(body, m.path, undefined, true)
    else if (m.kind === 'raw-body') raw = m.text
    else if (m.kind === 'content-type') contentType = m.value
    else if (m.kind === 'path') {
      path[m.name] = m.value
      if (m.raw) rawParams.add(m.name)
    } else if (m.kind === 'query') {
      if (m.value === null) query.delete(m.name)
      else query.set(m.name, { value: m.value, raw: m.raw ?? false })
    } else headers[m.name] = m.value
  }
  let text = raw
  if (text === undefined && body !== undefined) {
    text = JSON.stringify(body).replace(/"\\u0000DEEP:(\d+):(array|object)"/g, (_, depth, shape) =>
      deep(Number(depth), shape)
    )
  }
  const search = [...query]
    .map(
      ([name, { value, raw }]) =>
        `${encodeURIComponent(name)}=${raw ? value : encodeURIComponent(value)}`
    )
    .join('&')
  const url = `${fillPath(op.path, path, rawParams)}${search ? `?${search}` : ''}`
  if (contentType) headers['content-type'] = contentType
  return { url, headers, text }
}

async function run(op: Operation, base: Base, admitted: string[], c: Case) {
  const mutations = [
    ...c.noise.filter((m) => !c.primary || !overlaps(m, c.primary)),
    ...(c.primary ? [c.primary] : []),
  ]
  let applied = mutations
  let request = build(op, base, applied)
  if (Buffer.byteLength(request.text ?? '') > MAX_BODY_BYTES) {
    applied = c.primary ? [c.primary] : []
    request = build(op, base, applied)
  }
  const invalidInput = applied.some((m) => m.invalid)
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
    const request = build(op, base, probe ? [probe] : [])
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
  const body = bodyMutations(op, base.body)
  const query = queryMutations(op)
  const invalid = [
    ...body.invalid,
    ...pathMutations(op, base.path),
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
    const system = new Set(['GET /openapi.json', 'GET /docs'])
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
