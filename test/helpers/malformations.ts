import fc from 'fast-check'
import {
  admitsType,
  collectionOf,
  fillPath,
  type JsonSchema,
  type Operation,
  typesOf,
} from './openapi-routes.js'
import { validValue } from './schema-values.js'
import type { Tenant } from './tenant-fixture.js'

/**
 * The ways a request can be malformed, per operation and derived from its schema, as
 * fast-check arbitraries of plain descriptions (so counterexamples print and shrink), and how
 * to build the request from a valid base plus those changes.
 */

export type PathKey = (string | number)[]
export type Mutation = { why: string; invalid: boolean } & (
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
export const deep = (depth: number, shape: 'array' | 'object') =>
  shape === 'array'
    ? `${'['.repeat(depth)}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
const WRONG_VALUES: unknown[] = [0, -1, 1.5, true, false, null, 'str', [], [1, 2], {}, { a: 1 }]
const LONE_SURROGATES = ['\ud800', '\udfff', 'a\udc00b', '\ud83d', 'x\ud800\ud800']
// Not here: a leading byte order mark, which RFC 8259 §8.1 lets a parser ignore (and the server
// does, as the UTF-8 decoder drops it), so `\ufeff{}` is the valid body `{}`.
const INVALID_JSON = [
  '{',
  '{"a":',
  "{'a':1}",
  '{"name":"x",}',
  'NaN',
  '',
  '\u0000',
  '{"a":1}xyz',
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

/**
 * Body malformations. `perItem` names an array the route checks item by item (a bad item is
 * refused alone in a 200): changes inside its items are not a malformed request.
 */
export function bodyMutations(
  op: Operation,
  base: unknown,
  perItem?: string
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

export const ULID = '01J0000000000000000000ZZZZ'
/** Collections that hold the same resources (SCIM Users are members, subgroups are groups). */
const ALIASES = [
  ['members', 'Users'],
  ['groups', 'subgroups', 'Groups'],
]
/**
 * Path malformations around the real `values`; ids of the tenant's other collections are
 * wrongly kinded ids. `syntax`: the pattern of a caller-chosen id (a PUT that creates), where
 * only an id breaking it is malformed.
 */
export function pathMutations(
  op: Operation,
  values: Record<string, string>,
  tenant: Tenant,
  syntax?: RegExp
): fc.Arbitrary<Mutation>[] {
  const out: fc.Arbitrary<Mutation>[] = []
  for (const param of op.pathParams) {
    const real = values[param.name]!
    const prefix = /^([a-z]+_)/.exec(real)?.[1] ?? ''
    const collection = collectionOf(op.path, param.name)
    const alias = ALIASES.find((names) => names.includes(collection)) ?? [collection]
    const own = new Set(alias.flatMap((name) => tenant.ids[name] ?? []))
    // Real ids of other kinds (SCIM Users are members: the same ids under two names).
    const others = Object.values(tenant.ids)
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

/** Query malformations; cursors are forged from those the tenant was issued. */
export function queryMutations(
  op: Operation,
  tenant: Tenant
): {
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
      const own = tenant.cursors[op.key]
      const issued = [...(own ? [own] : []), ...Object.values(tenant.cursors)]
      const tampered = [...new Set(issued)].slice(0, 3).flatMap(tamperings)
      const forged = Buffer.from(
        JSON.stringify({ l: 'x', k: { PK: tenant.id, SK: 'x' } })
      ).toString('base64url')
      // A cursor another list issued is not one this list issued either.
      const foreign = Object.entries(tenant.cursors)
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
        tenant.id,
        'a,b,,c',
        `userName eq "${'a'.repeat(3000)}"`,
      ],
      false,
      true
    )
  }
  // SCIM ignores parameters it does not know (RFC 7644); the API's routes reject them (contract
  // v1.1 "Strict requests"), so there an undeclared name is invalid, a declared `limit` noise.
  const declared = new Set(op.query.map((p) => p.name))
  for (const name of ['unknown_param', 'limit', 'LIMIT', '__proto__']) {
    const isInvalid = !op.scim && !declared.has(name)
    q(name, ['1'], isInvalid)
  }
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

export function headerMutations(op: Operation): fc.Arbitrary<Mutation>[] {
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

export interface Base {
  body: unknown
  path: Record<string, string>
}

/** What a request malformed in exactly this way answers (the contract's status for it). */
export function expectedStatuses(op: Operation, m: Mutation): number[] {
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
export function overlaps(a: Mutation, b: Mutation): boolean {
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

/** The request: the base with `applied` changes, in order (a later one wins). */
export function build(op: Operation, base: Base, applied: Mutation[], now: Date) {
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
    // A copy: the values are shared constants (WRONG_VALUES), and a later mutation of the same
    // request may write inside the one set here (a set at `events`, then at `events.0`).
    if (m.kind === 'set') body = setAt(body, m.path, structuredClone(m.value), false)
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

/** A string body gets a text/plain content type from fetch; bytes go without one. */
export function bodyOf(request: { headers: Record<string, string>; text?: string | undefined }) {
  return request.headers['content-type'] ? request.text : new TextEncoder().encode(request.text)
}
