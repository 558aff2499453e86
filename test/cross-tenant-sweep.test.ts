import { afterAll, describe, expect, it } from 'vitest'
import { contractErrorProblems, scimErrorProblems } from './helpers/contract-errors.js'
import {
  collectionOf,
  fillPath,
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
import { createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'

/**
 * Cross-tenant sweep: every operation of the OpenAPI document and every SCIM endpoint, called
 * by another organization (its admin key, billing manager key, SCIM token and workspace API
 * key) with the victim's real ids in the path, the body and the list filters. 0 leaks: no id,
 * name, email or secret of the victim in any answer (beyond what the request itself named);
 * 0 changes: the victim's every read, its audit count and its table items are as before; and
 * no oracle: naming a victim's resource answers exactly as naming one that does not exist
 * ("a resource of another organization is reported as 404, never 403").
 */

const { h, writes, scan } = await startRecordingHarness()
afterAll(() => h.close())
const serviceKey = await createServiceKey(h)
const victim = await populateTenant(h, 'Victim', serviceKey)
const attacker = await populateTenant(h, 'Attacker', serviceKey)
const { operations: documented } = await openApiOperations(h)
const operations = [...documented, ...(await scimOperations(h, victim.keys.scim))]
await issuedCursors(h, documented, victim)
// Deployment-wide, not the victim's: still a real id for the operator's routes to be named with.
victim.ids['service-keys'] = [
  (await h.call('GET', '/v1/service-keys', { key: h.operatorKey })).body.data[0].id,
]
const snapshotBefore = await snapshotTenant(h, operations, victim)
const now = h.clock.now()

/** Victim values that name its resources (ids, emails, secrets); slugs and names are not. */
const victimIds = victim.secrets.filter((s) => /^[a-z]+_[A-Za-z0-9_-]{10,}$|@/.test(s))
const victimItems = async () =>
  (await scan())
    // The attacker's own decision log records the requests it sent, victim ids it typed
    // included (echoed, nothing read from the victim; the 'own organization' case checks that).
    .filter((item) => item.PK !== `DLOG#${attacker.id}`)
    .map((item) => JSON.stringify(item))
    .filter((text) => victimIds.some((id) => text.includes(id)))
    .sort()
const victimItemsBefore = await victimItems()

const ATTACKER_CREDENTIALS = {
  admin: attacker.keys.admin,
  billing_manager: attacker.keys.billing,
  scim: attacker.keys.scim,
  workspace_key: attacker.keys.workspace,
} as const
type CredentialKind = keyof typeof ATTACKER_CREDENTIALS

/**
 * Route-specific expectations (everything else follows from the document): a path id the
 * caller chooses (PUT creates it in the caller's organization), so the victim's policy slug
 * names the attacker's own policy once the attacker has put one.
 */
const CALLER_CHOSEN_PATH_IDS = new Set([
  'GET /v1/policies/{id}',
  'PUT /v1/policies/{id}',
  'DELETE /v1/policies/{id}',
])

/**
 * Routes an admin key may not call at all (the contract's credential table): the operator's
 * and the products' (service key). Every other /v1 route is an admin key's, so an org_admin
 * key naming another organization's resource in its path must get exactly 404.
 */
const NOT_FOR_ADMIN_KEYS =
  /^(\S+ \/v1\/(organizations|service-keys|jobs)\b|POST \/v1\/usage\/events$|POST \/v1\/api-keys\/introspect$)/
const adminRoute = (op: Operation) => !op.scim && op.secured && !NOT_FOR_ADMIN_KEYS.test(op.key)

/** Query parameters that filter by a resource: the victim's value for each. */
function victimFilter(name: string): string | undefined {
  const first = (collection: string) => victim.ids[collection]?.[0]
  const filters: Record<string, string | undefined> = {
    workspace_id: first('workspaces'),
    workspace_ids: first('workspaces'),
    member_id: first('members'),
    member_ids: first('members'),
    api_key_id: first('api-keys'),
    api_key_ids: first('api-keys'),
    actor_id: victim.ids['admin-keys']?.[0],
    target_id: first('workspaces'),
    principal_id: first('members'),
    email: victim.secrets.find((s) => s.includes('@')),
  }
  return filters[name]
}

interface SweepRequest {
  label: string
  url: string
  body?: string
  /** Victim values the request names, each with the stand-in a control request uses. */
  named: Map<string, string>
  /**
   * The statuses that refuse it, when it names the victim in its path (401/403/404) or body
   * (also 400); a filter may answer 200 (with nothing of the victim's, as every answer).
   */
  refusedWith?: number[]
}

const PATH_REFUSALS = [401, 403, 404]
const BODY_REFUSALS = [400, 401, 403, 404]

let standIns = 0
/** A value of the same shape that names nothing: an unused id, an unknown address. */
function standIn(value: string): string {
  standIns++
  if (value.includes('@')) return `nobody.${standIns}@example.com`
  const prefix = /^([a-z]+_)/.exec(value)?.[1]
  if (prefix) return `${prefix}01J${String(standIns).padStart(23, '0')}`
  if (/^[A-Za-z0-9_-]{20,}$/.test(value))
    return Buffer.from(`forged-${standIns}`).toString('base64url')
  return `${value}-nobody${standIns}`
}

/** The requests an attacker sends to one operation. */
function sweepRequests(op: Operation): SweepRequest[] {
  const out: SweepRequest[] = []
  const victimValues = tenantPathValues(op, victim, now)
  const attackerValues = tenantPathValues(op, attacker, now)
  const idParams = op.pathParams.filter((p) => victim.ids[collectionOf(op.path, p.name)])
  const bodyOf = (named: Map<string, string>) => {
    if (!op.body) return undefined
    const pick = (value: string | undefined) => {
      if (value) named.set(value, standIn(value))
      return value
    }
    const value = validValue(op.body, {
      now,
      named: (path, _schema: JsonSchema, parent) => {
        const name = String(path.at(-1))
        if (name === 'organization_id') return pick(victim.id)
        if (name === 'workspace_id') return pick(victim.ids.workspaces![0])
        if (name === 'member_id') return pick(victim.ids.members![0])
        if (name === 'api_key_id') return pick(victim.ids['api-keys']![0])
        if (name === 'id' && parent.type === 'Member') return pick(victim.ids.members![0])
        if (name === 'id' && parent.type === 'Workspace') return pick(victim.ids.workspaces![0])
        if (name === 'value' && path.includes('members')) return pick(victim.ids.members![0])
        return op.scim ? scimAttributeValue(path) : undefined
      },
    })
    return JSON.stringify(value)
  }
  const required = op.query
    .filter((p) => p.required)
    .map((p) => `${p.name}=${encodeURIComponent(String(validValue(p.schema, { now }, [p.name])))}`)
  const url = (values: Record<string, string>, query: string[] = []) => {
    const search = [...required, ...query].join('&')
    return `${fillPath(op.path, values)}${search ? `?${search}` : ''}`
  }
  // 1. Every id in the path (and the body) is the victim's.
  {
    const named = new Map<string, string>()
    for (const p of idParams) named.set(victimValues[p.name]!, standIn(victimValues[p.name]!))
    const inPath = named.size
    const body = bodyOf(named)
    // A body naming the victim may be refused as invalid before the path is looked up.
    const refusedWith = named.size > inPath ? BODY_REFUSALS : inPath > 0 ? PATH_REFUSALS : undefined
    out.push({
      label: 'victim ids',
      url: url(victimValues),
      ...(body ? { body } : {}),
      named,
      ...(refusedWith ? { refusedWith } : {}),
    })
  }
  // 2. One victim id beside the attacker's own (a group of mine, a member of theirs).
  if (idParams.length > 1) {
    for (const p of idParams) {
      const named = new Map([[victimValues[p.name]!, standIn(victimValues[p.name]!)]])
      const body = bodyOf(named)
      out.push({
        label: `victim ${p.name}, own others`,
        url: url({ ...attackerValues, [p.name]: victimValues[p.name]! }),
        ...(body ? { body } : {}),
        named,
        refusedWith: named.size > 1 ? BODY_REFUSALS : PATH_REFUSALS,
      })
    }
  }
  if (op.method === 'GET') {
    // 3. List filters naming the victim's resources.
    const filters = op.query
      .map((p) => [p.name, victimFilter(p.name)] as const)
      .filter(([, v]) => v)
    if (filters.length > 0) {
      const named = new Map(filters.map(([, v]) => [v!, standIn(v!)]))
      out.push({
        label: 'victim filters',
        url: url(
          attackerValues,
          filters.map(([n, v]) => `${n}=${encodeURIComponent(v!)}`)
        ),
        named,
      })
    }
    // 4. A cursor the victim was issued for this very list.
    const cursor = victim.cursors[op.key]
    if (cursor && op.query.some((p) => p.name === 'after')) {
      out.push({
        label: "victim's cursor",
        url: url(attackerValues, [`after=${encodeURIComponent(cursor)}`]),
        named: new Map([[cursor, standIn(cursor)]]),
        refusedWith: [400, 401, 403],
      })
    }
    // 5. SCIM filters naming the victim's users and groups.
    if (op.scim && op.query.some((p) => p.name === 'filter')) {
      const email = victim.secrets.find((s) => s.includes('@'))!
      const values = [
        ['userName', email],
        ['id', victim.ids.Users![0]!],
        ['externalId', victim.secrets.find((s) => s.endsWith('-ext-user'))!],
        ['displayName', victim.secrets.find((s) => s.endsWith(' Provisioned'))!],
      ] as const
      for (const [attribute, value] of values) {
        out.push({
          label: `filter ${attribute}`,
          url: url({}, [`filter=${encodeURIComponent(`${attribute} eq "${value}"`)}`]),
          named: new Map([[value, standIn(value)]]),
        })
      }
    }
    // 6. The plain list: only the attacker's own data.
    if (op.pathParams.length === 0) out.push({ label: 'plain', url: url({}), named: new Map() })
  }
  return out
}

interface Seen {
  status: number
  text: string
  headers: Headers
}

async function send(
  op: Operation,
  request: { url: string; body?: string },
  key: string
): Promise<Seen> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` }
  if (request.body !== undefined)
    headers['content-type'] = op.scim ? 'application/scim+json' : 'application/json'
  const res = await h.app.request(request.url, {
    method: op.method,
    headers,
    ...(request.body !== undefined ? { body: request.body } : {}),
  })
  return { status: res.status, text: await res.text(), headers: res.headers }
}

/** What an answer says, with the named values and request ids blotted out, to compare two. */
function gist(seen: Seen, values: string[], op: Operation): string {
  let text = seen.text
  for (const value of values) {
    text = text.split(value).join('<named>').split(encodeURIComponent(value)).join('<named>')
  }
  text = text.replace(/"request_id":"[^"]*"/g, '"request_id":"…"')
  if (seen.status < 300 && op.method !== 'GET') text = '' // a create's new ids differ
  return `${seen.status} ${text}`
}

let requestCount = 0

describe('cross-tenant sweep: another organization names the victim everywhere', () => {
  it('covers every route the app serves: each is in the OpenAPI document or SCIM discovery', () => {
    const described = new Set(operations.map((op) => op.key))
    // Not API routes: the description itself, its viewer, and the browser console's files.
    const system = new Set([
      'GET /openapi.json',
      'GET /docs',
      'GET /console',
      'GET /console/',
      'GET /console/assets/{name}',
    ])
    expect(
      registeredRoutes(h.app).filter((key) => !described.has(key) && !system.has(key))
    ).toEqual([])
    // Every path id is filled with a real victim id: a route over a new kind of resource needs
    // that resource in the fixture (populateTenant), or the sweep would name nothing real.
    const unfilled = operations.flatMap((op) =>
      op.pathParams
        .filter((p) => !p.schema.enum && !victim.ids[collectionOf(op.path, p.name)])
        .filter(
          (p) => !(op.scim && ['ResourceTypes', 'Schemas'].includes(collectionOf(op.path, p.name)))
        )
        .map((p) => `${op.key} {${p.name}}`)
    )
    expect(unfilled).toEqual([])
  })

  it.each(operations.map((op) => [op.key, op] as const))('%s', async (_key, op) => {
    const problems: string[] = []
    for (const [kind, key] of Object.entries(ATTACKER_CREDENTIALS) as [CredentialKind, string][]) {
      for (const request of sweepRequests(op)) {
        const where = `${op.method} ${request.url.slice(0, 160)} [${request.label}] as attacker ${kind}`
        const mark = writes.mark()
        const seen = await send(op, request, key)
        requestCount++
        const written = writes.since(mark)
        const sent = decodeURIComponent(request.url) + (request.body ?? '')
        const leaked = victim.secrets.filter((s) => seen.text.includes(s) && !sent.includes(s))
        if (leaked.length > 0) problems.push(`${where} → ${seen.status} leaks ${leaked.join(', ')}`)
        // A list the attacker may read holds the attacker's own organization's items only
        // (JSON answers: /docs serves HTML, script and CSS).
        const isJson = seen.headers.get('content-type')?.startsWith('application/json') ?? false
        if (seen.status < 300 && op.method === 'GET' && !op.scim && isJson) {
          const data = (JSON.parse(seen.text || 'null') as { data?: unknown } | null)?.data
          const foreign = Array.isArray(data)
            ? data.filter((item) => {
                const owner = (item as { organization_id?: unknown }).organization_id
                // null: shared by every organization (the built-in policies).
                return owner !== undefined && owner !== null && owner !== attacker.id
              })
            : []
          if (foreign.length > 0)
            problems.push(`${where} lists ${foreign.length} items of another organization`)
        }
        if (seen.status >= 500)
          problems.push(`${where} → ${seen.status} ${seen.text.slice(0, 200)}`)
        if (seen.status >= 400) {
          const shape = op.scim ? scimErrorProblems(seen) : contractErrorProblems(seen)
          if (shape.length > 0) problems.push(`${where} → ${seen.status}: ${shape.join('; ')}`)
        }
        if (written.length > 0 && seen.status >= 400) {
          problems.push(
            `${where} → ${seen.status} but wrote ${written.map((w) => w.key).join(', ')}`
          )
        }
        if (written.some((w) => victimIds.some((id) => w.key.includes(id)))) {
          problems.push(`${where} wrote a victim item: ${written.map((w) => w.key).join(', ')}`)
        }
        // Valid nowhere here: unknown to this API (401) or known and refused (403, as the
        // contract has it for "a known credential that may not do the thing").
        if (kind === 'workspace_key' && op.secured && ![401, 403].includes(seen.status)) {
          problems.push(`${where} → ${seen.status}: a workspace API key is valid nowhere here`)
        }
        const chosen = CALLER_CHOSEN_PATH_IDS.has(op.key)
        if (request.refusedWith && !chosen && !request.refusedWith.includes(seen.status)) {
          problems.push(
            `${where} → ${seen.status}: naming another organization's resource must be refused (${request.refusedWith.join('/')}) ${seen.text.slice(0, 200)}`
          )
        }
        if (
          kind === 'admin' &&
          adminRoute(op) &&
          !chosen &&
          request.refusedWith === PATH_REFUSALS &&
          seen.status !== 404
        ) {
          problems.push(
            `${where} → ${seen.status}: another organization's resource is reported as 404, never 403`
          )
        }
        // The oracle: the same request naming resources that do not exist answers the same.
        if (request.named.size > 0 && !chosen) {
          let control = {
            url: request.url,
            ...(request.body !== undefined ? { body: request.body } : {}),
          }
          for (const [value, stand] of request.named) {
            const swap = (text: string) =>
              text
                .split(encodeURIComponent(value))
                .join(encodeURIComponent(stand))
                .split(value)
                .join(stand)
            control = {
              url: swap(control.url),
              ...(control.body !== undefined ? { body: swap(control.body) } : {}),
            }
          }
          const mark = writes.mark()
          const controlSeen = await send(op, control, key)
          requestCount++
          const values = [...request.named.keys(), ...request.named.values()]
          const [a, b] = [gist(seen, values, op), gist(controlSeen, values, op)]
          if (a !== b && !(seen.status < 300 && controlSeen.status < 300 && op.method !== 'GET')) {
            problems.push(
              `${where}: answers differ for a victim's resource and a missing one:\n    victim  ${a.slice(0, 300)}\n    missing ${b.slice(0, 300)}`
            )
          }
          if (writes.since(mark).length > 0 && controlSeen.status >= 400)
            problems.push(`${where} control wrote`)
        }
      }
    }
    expect(problems, problems.join('\n')).toEqual([])
  })

  it('POST /v1/authorize and /v1/authorize/batch naming the victim organization are refused with 404', async () => {
    const item = {
      principal: { type: 'Member', id: victim.ids.members![0] },
      action: 'use_chat',
      resource: { type: 'Workspace', id: victim.ids.workspaces![0] },
    }
    for (const key of [attacker.keys.admin, attacker.keys.billing]) {
      const one = await h.call('POST', '/v1/authorize', {
        key,
        body: { organization_id: victim.id, ...item },
      })
      expect(one.status, one.text).toBe(404)
      expect(one.body.error.type).toBe('not_found')
      const many = await h.call('POST', '/v1/authorize/batch', {
        key,
        body: { organization_id: victim.id, requests: [item] },
      })
      expect(many.status, many.text).toBe(404)
    }
    // The attacker's own organization, naming the victim's member and workspace: a deny, no data.
    const own = await h.call('POST', '/v1/authorize', {
      key: attacker.keys.admin,
      body: { organization_id: attacker.id, ...item },
    })
    expect(own.status, own.text).toBe(200)
    expect(own.body.decision).toBe('deny')
    expect(
      victim.secrets.filter((s) => own.text.includes(s) && !JSON.stringify(item).includes(s))
    ).toEqual([])
  })

  it("changed nothing of the victim's: every read, the audit count and its table items", async () => {
    console.info(
      `cross-tenant sweep: ${requestCount} requests over ${operations.length} operations`
    )
    expect(requestCount).toBeGreaterThan(operations.length * 4)
    const after = await snapshotTenant(h, operations, victim)
    expect(after.auditCount).toBe(snapshotBefore.auditCount)
    for (const key of Object.keys(snapshotBefore.reads)) {
      expect(after.reads[key], key).toBe(snapshotBefore.reads[key])
    }
    expect(await victimItems()).toEqual(victimItemsBefore)
  })

  // After the snapshot check: an accepted event would store the victim's ids in the attacker's data.
  it("usage events for the attacker's organization naming the victim's key, member or workspace are rejected", async () => {
    const at = new Date(now.getTime() - 3600_000).toISOString()
    const event = (id: string, extra: Record<string, string>) =>
      usageEvent({
        id: `cross-${id}`,
        organization_id: attacker.id,
        workspace_id: attacker.defaultWorkspaceId,
        timestamp: at,
        ...extra,
      })
    const result = await sendEvents(h, serviceKey, [
      event('key', { api_key_id: victim.ids['api-keys']![0]! }),
      event('member', { member_id: victim.ids.members![0]! }),
      event('workspace', { workspace_id: victim.ids.workspaces![0]! }),
    ])
    expect(result.accepted, JSON.stringify(result)).toBe(0)
    expect(result.rejected.map((r) => r.index)).toEqual([0, 1, 2])
    expect(result.rejected.map((r) => r.error.param)).toEqual([
      'events.0.api_key_id',
      'events.1.member_id',
      'events.2.workspace_id',
    ])
  })
})
