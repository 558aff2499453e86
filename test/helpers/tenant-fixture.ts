import { ScanCommand } from '@aws-sdk/lib-dynamodb'
import { Db } from '../../functions/store/db.js'
import { as, email, expectOk } from './admin-model.js'
import { createOrg, type Harness, startHarness } from './harness.js'
import { collectionOf, fillPath, type Operation } from './openapi-routes.js'
import { validValue } from './schema-values.js'
import { newUser, SCIM, scimClient } from './scim.js'
import { adminKeyWithRole, aggregate, sendEvents, usageEvent } from './usage.js'

/**
 * A harness that records every write the app makes to its table, and populated
 * organizations whose whole observable state can be snapshotted: what suites need to assert
 * that a request "changed nothing".
 */

export interface TableWrite {
  command: string
  key: string
}

/** Writes to the table, in order; `since(mark)` is the net change after a mark. */
export class WriteLog {
  readonly all: TableWrite[] = []
  mark(): number {
    return this.all.length
  }
  /**
   * The writes after `mark` that are still in effect: a key written and then deleted in the
   * same window (an idempotency claim released after a failure) cancels out.
   */
  since(mark: number): TableWrite[] {
    const window = this.all.slice(mark)
    return window.filter((write, index) => {
      if (write.command === 'DeleteItem') {
        return !window.slice(0, index).some((w) => w.key === write.key)
      }
      return !window.slice(index + 1).some((w) => w.command === 'DeleteItem' && w.key === write.key)
    })
  }
}

const WRITES = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
])

export interface RecordingHarness {
  h: Harness
  writes: WriteLog
  /** Every item of the table (a raw view, to diff before and after). */
  scan(): Promise<Record<string, unknown>[]>
}

export async function startRecordingHarness(): Promise<RecordingHarness> {
  const writes = new WriteLog()
  let db: Db | undefined
  const h = await startHarness({
    makeDb: (doc, tableName) => {
      doc.middlewareStack.add(
        (next, context) => async (args) => {
          const out = await next(args)
          const command = String(context.commandName)
          if (WRITES.has(command)) {
            for (const key of keysOf(args.input as Record<string, unknown>)) {
              writes.all.push({ command: command.replace(/Command$/, ''), key })
            }
          }
          return out
        },
        { step: 'initialize', name: 'recordWrites' }
      )
      db = new Db(doc, tableName)
      return db
    },
  })
  const scan = async () => {
    const items: Record<string, unknown>[] = []
    let startKey: Record<string, unknown> | undefined
    do {
      const page = await db!.doc.send(
        new ScanCommand({ TableName: db!.tableName, ExclusiveStartKey: startKey })
      )
      items.push(...(page.Items ?? []))
      startKey = page.LastEvaluatedKey
    } while (startKey)
    return items
  }
  return { h, writes, scan }
}

/** The item keys a write command names (as JSON of PK and SK). */
function keysOf(input: Record<string, unknown>): string[] {
  const key = (item: unknown) => {
    const { PK, SK } = (item ?? {}) as Record<string, unknown>
    return JSON.stringify({ PK, SK })
  }
  if (input.Item) return [key(input.Item)]
  if (input.Key) return [key(input.Key)]
  const batch = input.RequestItems as
    | Record<string, Record<string, { Item?: unknown; Key?: unknown }>[]>
    | undefined
  if (batch) {
    return Object.values(batch).flatMap((requests) =>
      requests.map((r) => key(r.PutRequest?.Item ?? r.DeleteRequest?.Key))
    )
  }
  const transact = input.TransactItems as
    | Record<string, { Item?: unknown; Key?: unknown }>[]
    | undefined
  if (transact)
    return transact.map((t) => key(Object.values(t)[0]?.Item ?? Object.values(t)[0]?.Key))
  return ['?']
}

// ----- A populated organization ---------------------------------------------------------------

export interface Tenant {
  label: string
  id: string
  defaultWorkspaceId: string
  /** Credentials of the organization, by kind. */
  keys: {
    admin: string
    billing: string
    member: string
    scim: string
    /** A workspace API key (sk_): valid nowhere on this API. */
    workspace: string
    /** A revoked admin key: 401 everywhere. */
    revokedAdmin: string
  }
  /** Real ids by the collection a path names them under (`members`, `groups`, …). */
  ids: Record<string, string[]>
  /** Ids, names, emails and secrets of this organization: none may reach another one. */
  secrets: string[]
  /** A next_cursor this organization was issued for each list route (by operation key). */
  cursors: Record<string, string>
}

/**
 * An organization with something in every collection: workspaces (one archived), members
 * (one billing manager), nested groups, grants, seats, workspace API keys (one revoked), admin
 * keys, a SCIM token with a provisioned user and group, a custom policy, spend limits,
 * prices, invites, usage events and an aggregation run.
 */
export async function populateTenant(
  h: Harness,
  label: string,
  serviceKey: string
): Promise<Tenant> {
  const tag = `${label}${Math.random().toString(36).slice(2, 8)}`
  const org = await createOrg(h, `${tag} Corp`)
  const api = as(h, org.adminKey)
  const secrets: string[] = [
    org.id,
    org.defaultWorkspaceId,
    org.adminKey,
    org.adminKeyId,
    `${tag} Corp`,
  ]
  const keep = <T extends string>(...values: T[]) => {
    secrets.push(...values)
    return values[0]!
  }
  const workspace = keep(
    (await api.create('/v1/workspaces', { name: `${tag} Research` })).id,
    `${tag} Research`
  )
  const archived = keep(
    (await api.create('/v1/workspaces', { name: `${tag} Old` })).id,
    `${tag} Old`
  )
  await api.create(`/v1/workspaces/${archived}/archive`)
  const members: string[] = []
  for (const [i, role] of (['member', 'billing_manager', 'member'] as const).entries()) {
    const address = email(`${tag}-m${i}`)
    const member = await api.create('/v1/members', {
      email: address,
      name: `${tag} Member ${i}`,
      org_role: role,
      workspaces: [{ workspace_id: workspace, roles: ['user', 'dev'] }],
    })
    members.push(keep(member.id, address, `${tag} Member ${i}`))
  }
  const parent = keep(
    (await api.create('/v1/groups', { name: `${tag} Parent` })).id,
    `${tag} Parent`
  )
  const child = keep((await api.create('/v1/groups', { name: `${tag} Child` })).id, `${tag} Child`)
  await api.create(`/v1/groups/${parent}/subgroups/${child}`, undefined, 'PUT')
  await api.create(`/v1/groups/${child}/members/${members[0]}`, undefined, 'PUT')
  await api.create(
    `/v1/workspaces/${workspace}/access/groups/${parent}`,
    { roles: ['billing'] },
    'PUT'
  )
  await api.create(
    `/v1/workspaces/${workspace}/access/members/${members[2]}`,
    { roles: ['workspace_admin'] },
    'PUT'
  )
  await api.create('/v1/seats/chat', { purchased: 5 }, 'PUT')
  await api.create(`/v1/members/${members[0]}/seats/chat`, undefined, 'PUT')
  const apiKey = await api.create('/v1/api-keys', {
    name: `${tag} Key`,
    workspace_id: workspace,
    member_id: members[0],
  })
  keep(apiKey.id, apiKey.secret, `${tag} Key`)
  const revokedKey = keep(
    (await api.create('/v1/api-keys', { name: `${tag} Gone`, workspace_id: workspace })).id,
    `${tag} Gone`
  )
  expectOk(await api.delete(`/v1/api-keys/${revokedKey}`), 'revoke api key')
  const billing = await adminKeyWithRole(h, org.adminKey, 'billing_manager')
  const member = await adminKeyWithRole(h, org.adminKey, 'member')
  keep(billing, member)
  const revoked = await api.create('/v1/admin-keys', {
    name: `${tag} Revoked`,
    org_roles: ['organization_admin'],
  })
  keep(revoked.id, revoked.secret, `${tag} Revoked`)
  expectOk(await api.delete(`/v1/admin-keys/${revoked.id}`), 'revoke admin key')
  const adminKeys = ((await api.get('/v1/admin-keys?limit=100')).body.data as { id: string }[]).map(
    (k) => keep(k.id)
  )
  const scim = await api.create('/v1/scim-tokens', { name: `${tag} Okta` })
  keep(scim.id, scim.secret, `${tag} Okta`)
  const idp = scimClient(h, scim.secret)
  const userEmail = email(`${tag}-scim`)
  const user = await idp.post('/Users', newUser(userEmail, { externalId: `${tag}-ext-user` }))
  expectOk(user, 'SCIM POST /Users')
  keep(user.body.id, userEmail, `${tag}-ext-user`)
  const group = await idp.post('/Groups', {
    schemas: [SCIM.group],
    displayName: `${tag} Provisioned`,
    externalId: `${tag}-ext-group`,
    members: [{ value: user.body.id }],
  })
  expectOk(group, 'SCIM POST /Groups')
  keep(group.body.id, `${tag} Provisioned`, `${tag}-ext-group`)
  const hookUrl = `https://${tag.toLowerCase()}.hooks.example.com/admin-engine`
  const hook = await api.create('/v1/webhooks', {
    url: hookUrl,
    event_types: ['policy.changed'],
    description: `${tag} hook`,
  })
  keep(hook.id, hook.signing_secret, hookUrl, `${tag} hook`)
  const policyId = keep(`${tag.toLowerCase()}-policy`)
  await api.create(
    `/v1/policies/${policyId}`,
    {
      description: `${tag} forbids opus`,
      cedar: `forbid (principal, action == Action::"use_chat", resource)\nwhen { context has model && context.model == "${tag}-model" };`,
    },
    'PUT'
  )
  keep(`${tag} forbids opus`, `${tag}-model`)
  await api.create('/v1/spend-limit', { monthly_limit: '900.00', enforcement: 'soft' }, 'PUT')
  await api.create(`/v1/workspaces/${workspace}/spend-limit`, { monthly_limit: '400.00' }, 'PUT')
  // Rate limits set (version 1), so every versioned resource a fuzzed PUT can reach exists and a
  // never-issued `If-Match: "0"` is stale everywhere (an unset one is at version 0, like seats).
  // Large enough never to deny a decision the sweeps make.
  const generous = { model: '*', requests_per_minute: 1_000_000, tokens_per_minute: 1_000_000_000 }
  await api.create('/v1/rate-limits', { limits: [generous] }, 'PUT')
  await api.create(`/v1/workspaces/${workspace}/rate-limits`, { limits: [generous] }, 'PUT')
  await api.create(
    '/v1/prices',
    {
      prices: [
        {
          model: `${tag}-model`,
          input_per_million: '3.00',
          output_per_million: '15.00',
          effective_from: '2026-01-01T00:00:00Z',
        },
      ],
    },
    'PUT'
  )
  const inviteEmail = email(`${tag}-invite`)
  const invite = await api.create('/v1/invites', {
    email: inviteEmail,
    workspaces: [{ workspace_id: workspace, roles: ['user'] }],
  })
  keep(invite.id, invite.token, inviteEmail)
  expectOk(
    await api.patch('/v1/organization', { settings: { api_key_max_validity_days: 365 } }),
    'PATCH /v1/organization'
  )
  const now = h.clock.now().getTime()
  const events = Array.from({ length: 6 }, (_, i) =>
    usageEvent({
      id: `${tag}-evt-${i}`,
      organization_id: org.id,
      workspace_id: i % 2 ? workspace : org.defaultWorkspaceId,
      timestamp: new Date(now - (i + 1) * 3600_000).toISOString(),
      model: `${tag}-model`,
      // A key is bound to its workspace: events of the default workspace name only the member.
      ...(i % 2 ? { api_key_id: apiKey.id } : {}),
      member_id: members[0],
      input_tokens: 1000 * (i + 1),
      output_tokens: 100 * (i + 1),
    })
  )
  keep(...events.map((e) => e.id as string))
  const ingested = await sendEvents(h, serviceKey, events)
  if (ingested.accepted !== events.length) throw new Error(`usage: ${JSON.stringify(ingested)}`)
  await aggregate(h)
  // A recorded decision (the decision log), written before the fixture is read.
  const decided = await h.call('POST', '/v1/authorize', {
    key: serviceKey,
    body: {
      organization_id: org.id,
      principal: { type: 'Member', id: members[0] },
      action: 'use_chat',
      resource: { type: 'Workspace', id: workspace },
      context: { model: `${tag}-model` },
    },
  })
  expectOk(decided, 'POST /v1/authorize')
  const decisionId = keep(decided.body.decision_id as string)
  expectOk(await api.get('/v1/decisions?limit=1'), 'GET /v1/decisions')
  const ids: Record<string, string[]> = {
    organizations: [org.id],
    workspaces: [workspace, org.defaultWorkspaceId, archived],
    members: [members[0]!, members[1]!, members[2]!, user.body.id],
    groups: [parent, child, group.body.id],
    subgroups: [child],
    invites: [invite.id],
    'api-keys': [apiKey.id, revokedKey],
    'admin-keys': adminKeys.filter((id) => id !== org.adminKeyId),
    'scim-tokens': [scim.id],
    policies: [policyId],
    decisions: [decisionId],
    webhooks: [hook.id],
    Users: [user.body.id, members[0]!],
    Groups: [group.body.id, parent],
  }
  return {
    label,
    id: org.id,
    defaultWorkspaceId: org.defaultWorkspaceId,
    keys: {
      admin: org.adminKey,
      billing,
      member,
      scim: scim.secret,
      workspace: apiKey.secret,
      revokedAdmin: revoked.secret,
    },
    ids,
    secrets: [...new Set(secrets)],
    cursors: {},
  }
}

/** Path values naming a tenant's real resources: the first id of each parameter's collection. */
export function tenantPathValues(
  op: Operation,
  tenant: Tenant,
  now: Date,
  pick: (ids: string[], param: string) => string | undefined = (ids) => ids[0]
): Record<string, string> {
  const values: Record<string, string> = {}
  for (const param of op.pathParams) {
    const collection = collectionOf(op.path, param.name)
    const ids = tenant.ids[collection]
    const chosen = ids ? pick(ids, param.name) : undefined
    values[param.name] = chosen ?? String(validValue(param.schema, { now }, [param.name]))
    if (op.scim && collection === 'ResourceTypes') values[param.name] = 'User'
    if (op.scim && collection === 'Schemas') values[param.name] = SCIM.user
  }
  return values
}

export interface TenantSnapshot {
  /** What each GET route of the tenant answers (all pages). */
  reads: Record<string, string>
  auditCount: number
}

/**
 * Everything a tenant can read about itself: every GET operation of the document (every list
 * route with all its pages, every singleton, every resource by id) and its SCIM listings,
 * plus the number of audit events. Equal snapshots before and after = nothing changed.
 */
export async function snapshotTenant(
  h: Harness,
  operations: Operation[],
  tenant: Tenant
): Promise<TenantSnapshot> {
  const reads: Record<string, string> = {}
  const now = h.clock.now()
  for (const op of operations) {
    if (op.method !== 'GET' || !op.secured) continue
    const query = op.query
      .filter((p) => p.required)
      .map(
        (p) => `${p.name}=${encodeURIComponent(String(validValue(p.schema, { now }, [p.name])))}`
      )
    const pages: string[] = []
    const path = fillPath(op.path, tenantPathValues(op, tenant, now))
    const limit = op.query.some((p) => p.name === 'limit') ? ['limit=100'] : []
    const count = op.query.some((p) => p.name === 'count') ? ['count=200'] : []
    let next: string | undefined = [...query, ...limit, ...count].join('&')
    for (let page = 0; next !== undefined && page < 50; page++) {
      const url: string = next ? `${path}?${next}` : path
      let res = await h.call('GET', url, { key: op.scim ? tenant.keys.scim : tenant.keys.admin })
      let operator = false
      if (res.status === 403 && !op.scim) {
        res = await h.call('GET', url, { key: h.operatorKey })
        operator = true
      }
      // An error body carries its request id: keep only what it says. A deployment-wide list
      // (organizations) is kept to the tenant's own entries.
      const own =
        operator && Array.isArray(res.body?.data)
          ? JSON.stringify(
              (res.body.data as unknown[]).filter((item) =>
                JSON.stringify(item).includes(tenant.id)
              )
            )
          : res.text
      pages.push(
        res.status < 400
          ? own
          : `${res.status} ${res.body?.error?.type ?? res.body?.scimType ?? ''}`
      )
      const cursor = res.status < 400 ? (res.body?.next_cursor ?? res.body?.next_page) : undefined
      next = cursor
        ? [
            ...query,
            ...limit,
            `${res.body?.next_page ? 'page' : 'after'}=${encodeURIComponent(cursor)}`,
          ].join('&')
        : undefined
    }
    reads[op.key] = pages.join('\n')
  }
  const audit = await listEvery(h, tenant.keys.admin, '/v1/audit-events')
  return { reads, auditCount: audit.length }
}

async function listEvery(h: Harness, key: string, path: string): Promise<unknown[]> {
  const items: unknown[] = []
  let cursor: string | null = null
  do {
    const res = await h.call(
      'GET',
      `${path}?limit=100${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`,
      { key }
    )
    expectOk(res, `GET ${path}`)
    items.push(...res.body.data)
    cursor = res.body.next_cursor
  } while (cursor)
  return items
}

/** A cursor the tenant was issued by each list route that pages with `after` (limit=1). */
export async function issuedCursors(h: Harness, operations: Operation[], tenant: Tenant) {
  const now = h.clock.now()
  for (const op of operations) {
    if (op.method !== 'GET' || op.scim || !op.query.some((p) => p.name === 'after')) continue
    const path = fillPath(op.path, tenantPathValues(op, tenant, now))
    const required = op.query
      .filter((p) => p.required)
      .map(
        (p) => `&${p.name}=${encodeURIComponent(String(validValue(p.schema, { now }, [p.name])))}`
      )
      .join('')
    let res = await h.call('GET', `${path}?limit=1${required}`, { key: tenant.keys.admin })
    if (res.status === 403)
      res = await h.call('GET', `${path}?limit=1${required}`, { key: h.operatorKey })
    if (res.status === 200 && res.body?.next_cursor) tenant.cursors[op.key] = res.body.next_cursor
  }
}
