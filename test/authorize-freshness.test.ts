import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StoreDecisionService as DecisionService } from '../functions/app/decisions.js'
import type { ProductRequest } from '../functions/authz/decisions.js'
import { Db, type Item, type Key } from '../functions/store/db.js'
import { as, type Caller, email } from './helpers/admin-model.js'
import { decider } from './helpers/decisions.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { aggregate, createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'

/**
 * No stale cache: a change committed through the Admin API is seen by the very next decision.
 * The app's decision service here re-reads the stored revision only once an hour, so nothing
 * but the revision bump of the change itself can make the next decision see it: every
 * scenario first warms the cache with a decision, then changes one thing, then asks again.
 */
const HOUR = 3_600_000

/** A Db that can run something just before a BatchWriteItem (to race a decision against it). */
class HookedDb extends Db {
  beforeBatchWrite: ((puts: Item[]) => Promise<void>) | undefined
  override async batchWrite(puts: Item[], deletes: Key[] = [], concurrency = 1): Promise<void> {
    await this.beforeBatchWrite?.(puts)
    return super.batchWrite(puts, deletes, concurrency)
  }
}

let h: Harness
let hooked: HookedDb
let api: Caller
let org: Awaited<ReturnType<typeof createOrg>>
let ask: ReturnType<typeof decider>
let svc: string
let ws: string

beforeAll(async () => {
  h = await startHarness({
    makeDb: (doc, table) => {
      hooked = new HookedDb(doc, table)
      return hooked
    },
    decisions: (db) => new DecisionService(db, { revisionCheckMs: HOUR, maxAgeMs: HOUR }),
  })
  org = await createOrg(h)
  api = as(h, org.adminKey)
  svc = await createServiceKey(h)
  ask = decider(h, svc, org.id)
  ws = (await api.create('/v1/workspaces', { name: 'Product' })).id
})
afterAll(() => h.close())

const newMember = async () =>
  (await api.create('/v1/members', { email: email(), name: 'M' })).id as string
const newGroup = async (name: string) =>
  (await api.create('/v1/groups', { name: `${name} ${Math.random()}` })).id as string

/** Decision on (member, action, ws) before and after `change`. */
async function flip(memberId: string, action: string, change: () => Promise<unknown>) {
  const request = { principal: { type: 'Member' as const, id: memberId }, action, workspace: ws }
  const before = await ask.summary(request)
  await change()
  const after = await ask.summary(request)
  return [before, after]
}

describe('the next decision sees', () => {
  it('a grant given, changed and removed (member and group)', async () => {
    const m = await newMember()
    expect(
      await flip(m, 'use_studio', () =>
        api.put(`/v1/workspaces/${ws}/access/members/${m}`, { roles: ['dev'] })
      )
    ).toEqual(['deny', 'allow:ws-dev'])
    expect(
      await flip(m, 'use_studio', () =>
        api.put(`/v1/workspaces/${ws}/access/members/${m}`, { roles: ['user'] })
      )
    ).toEqual(['allow:ws-dev', 'deny'])
    const g = await newGroup('grantee')
    await api.put(`/v1/groups/${g}/members/${m}`)
    expect(
      await flip(m, 'read_usage', () =>
        api.put(`/v1/workspaces/${ws}/access/groups/${g}`, { roles: ['billing'] })
      )
    ).toEqual(['deny', 'allow:ws-billing'])
    expect(
      await flip(m, 'read_usage', () => api.delete(`/v1/workspaces/${ws}/access/groups/${g}`))
    ).toEqual(['allow:ws-billing', 'deny'])
  })

  it('group membership and nesting added and removed, and a group deleted', async () => {
    const m = await newMember()
    const child = await newGroup('child')
    const parent = await newGroup('parent')
    await api.put(`/v1/workspaces/${ws}/access/groups/${parent}`, {
      roles: ['observability_viewer'],
    })
    await api.put(`/v1/groups/${child}/members/${m}`)
    expect(
      await flip(m, 'view_observability', () => api.put(`/v1/groups/${parent}/subgroups/${child}`))
    ).toEqual(['deny', 'allow:ws-observability-viewer'])
    expect(
      await flip(m, 'view_observability', () =>
        api.delete(`/v1/groups/${parent}/subgroups/${child}`)
      )
    ).toEqual(['allow:ws-observability-viewer', 'deny'])
    expect(
      await flip(m, 'view_observability', () => api.put(`/v1/groups/${parent}/members/${m}`))
    ).toEqual(['deny', 'allow:ws-observability-viewer'])
    expect(
      await flip(m, 'view_observability', () => api.delete(`/v1/groups/${parent}/members/${m}`))
    ).toEqual(['allow:ws-observability-viewer', 'deny'])
    await api.put(`/v1/groups/${parent}/members/${m}`)
    expect(await flip(m, 'view_observability', () => api.delete(`/v1/groups/${parent}`))).toEqual([
      'allow:ws-observability-viewer',
      'deny',
    ])
  })

  it("a group's org role and a member's org role", async () => {
    const m = await newMember()
    const g = await newGroup('admins')
    await api.put(`/v1/groups/${g}/members/${m}`)
    expect(
      await flip(m, 'administer_workspace', () =>
        api.patch(`/v1/groups/${g}`, { org_role: 'organization_admin' })
      )
    ).toEqual(['deny', 'allow:org-admin-products'])
    const b = await newMember()
    expect(
      await flip(b, 'read_usage', () =>
        api.patch(`/v1/members/${b}`, { org_role: 'billing_manager' })
      )
    ).toEqual(['deny', 'allow:org-billing-manager-usage'])
  })

  it('seats assigned and released, and seats bought', async () => {
    const m = await newMember()
    await api.put(`/v1/workspaces/${ws}/access/members/${m}`, { roles: ['workspace_contributor'] })
    await api.put('/v1/seats/code', { purchased: 5 })
    expect(await flip(m, 'use_code', () => api.put(`/v1/members/${m}/seats/code`))).toEqual([
      'deny:forbid-no-code-seat',
      'allow:ws-contributor',
    ])
    expect(await flip(m, 'use_code', () => api.delete(`/v1/members/${m}/seats/code`))).toEqual([
      'allow:ws-contributor',
      'deny:forbid-no-code-seat',
    ])
    expect(await flip(m, 'use_chat', () => api.put('/v1/seats/chat', { purchased: 3 }))).toEqual([
      'allow:ws-contributor',
      'deny:forbid-no-chat-seat',
    ])
    expect(await flip(m, 'use_chat', () => api.put('/v1/seats/chat', { purchased: 0 }))).toEqual([
      'deny:forbid-no-chat-seat',
      'allow:ws-contributor',
    ])
  })

  it('a member deactivated, and a member removed', async () => {
    const m = await newMember()
    await api.put(`/v1/workspaces/${ws}/access/members/${m}`, { roles: ['dev'] })
    expect(
      await flip(m, 'use_studio', () => api.patch(`/v1/members/${m}`, { status: 'deactivated' }))
    ).toEqual(['allow:ws-dev', 'deny:forbid-deactivated-member'])
    await api.patch(`/v1/members/${m}`, { status: 'active' })
    const [before, after] = await flip(m, 'use_studio', () => api.delete(`/v1/members/${m}`))
    expect(before).toBe('allow:ws-dev')
    expect(after).toBe('deny')
    const gone = await ask.member(m, 'use_studio', ws)
    expect(gone.errors.map((e) => e.code)).toEqual(['unknown_principal'])
  })

  it('a workspace archived and unarchived', async () => {
    const m = await newMember()
    await api.put(`/v1/workspaces/${ws}/access/members/${m}`, { roles: ['billing'] })
    expect(await flip(m, 'read_usage', () => api.post(`/v1/workspaces/${ws}/archive`))).toEqual([
      'allow:ws-billing',
      'deny:forbid-archived-workspace',
    ])
    expect(await flip(m, 'read_usage', () => api.post(`/v1/workspaces/${ws}/unarchive`))).toEqual([
      'deny:forbid-archived-workspace',
      'allow:ws-billing',
    ])
  })

  it('an API key revoked, and its owner deactivated', async () => {
    const key = (await api.create('/v1/api-keys', { name: 'k', workspace_id: ws })).id
    const request = {
      principal: { type: 'ApiKey' as const, id: key },
      action: 'invoke_model',
      workspace: ws,
    }
    expect(await ask.summary(request)).toBe('allow:api-key-invoke')
    await api.delete(`/v1/api-keys/${key}`)
    expect(await ask.summary(request)).toBe('deny:forbid-revoked-key')

    const owner = await newMember()
    const owned = (
      await api.create('/v1/api-keys', { name: 'o', workspace_id: ws, member_id: owner })
    ).id
    const ownedRequest = { ...request, principal: { type: 'ApiKey' as const, id: owned } }
    expect(await ask.summary(ownedRequest)).toBe('allow:api-key-invoke')
    await api.patch(`/v1/members/${owner}`, { status: 'deactivated' })
    expect(await ask.summary(ownedRequest)).toBe('deny:forbid-key-of-deactivated-member')
  })

  it('a custom policy created, changed and deleted', async () => {
    const m = await newMember()
    await api.put(`/v1/workspaces/${ws}/access/members/${m}`, { roles: ['user'] })
    const policy = (model: string) => ({
      cedar: `forbid (principal, action == Action::"use_chat", resource)\nwhen { context has model && context.model == "${model}" };`,
      description: `no ${model}`,
    })
    const request = {
      principal: { type: 'Member' as const, id: m },
      action: 'use_chat',
      workspace: ws,
      context: { model: 'opus' },
    }
    expect(await ask.summary(request)).toBe('allow:ws-user-chat')
    await api.put('/v1/policies/no-opus', policy('opus'))
    expect(await ask.summary(request)).toBe('deny:no-opus')
    await api.put('/v1/policies/no-opus', policy('haiku'))
    expect(await ask.summary(request)).toBe('allow:ws-user-chat')
    await api.put('/v1/policies/no-opus', policy('opus'))
    expect(await ask.summary(request)).toBe('deny:no-opus')
    await api.delete('/v1/policies/no-opus')
    expect(await ask.summary(request)).toBe('allow:ws-user-chat')
  })

  it('a hard spend limit exhausted by the aggregation run, and lifted', async () => {
    const key = (await api.create('/v1/api-keys', { name: 'spender', workspace_id: ws })).id
    const request = {
      principal: { type: 'ApiKey' as const, id: key },
      action: 'invoke_model',
      workspace: ws,
    }
    // The usage first, then the limit: so the run, not ingestion's live spend, exhausts it.
    await sendEvents(h, svc, [
      usageEvent({
        id: 'evt-fresh-1',
        organization_id: org.id,
        workspace_id: ws,
        timestamp: h.clock.now().toISOString(),
        input_tokens: 1_000_000,
      }),
    ])
    await api.put(`/v1/workspaces/${ws}/spend-limit`, {
      monthly_limit: '1.00',
      enforcement: 'hard',
    })
    expect(await ask.summary(request)).toBe('allow:api-key-invoke')
    await aggregate(h)
    expect(await ask.summary(request)).toBe('deny:forbid-workspace-budget-exhausted')
    await api.put(`/v1/workspaces/${ws}/spend-limit`, { monthly_limit: null })
    await aggregate(h)
    expect(await ask.summary(request)).toBe('allow:api-key-invoke')
  })
})

describe('the aggregation job', () => {
  it('bumps the revision after writing budget states, so a decision racing the run is not kept', async () => {
    const racer = (await api.create('/v1/workspaces', { name: 'Racer' })).id
    const key = (await api.create('/v1/api-keys', { name: 'racer', workspace_id: racer })).id
    const request = {
      principal: { type: 'ApiKey' as const, id: key },
      action: 'invoke_model',
      workspace: racer,
    }
    // The usage first, then the limit: so the run, not ingestion's live spend, exhausts it.
    await sendEvents(h, svc, [
      usageEvent({
        id: 'evt-race-1',
        organization_id: org.id,
        workspace_id: racer,
        timestamp: h.clock.now().toISOString(),
        input_tokens: 1_000_000,
      }),
    ])
    await api.put(`/v1/workspaces/${racer}/spend-limit`, { monthly_limit: '1.00' })
    const during: string[] = []
    // Just before the job writes the budget states (after its `budget.suspended` audit entry):
    // a decision now reads the old state under the already bumped revision.
    hooked.beforeBatchWrite = async (puts) => {
      if (puts.some((item) => String(item.SK).startsWith('BUDGET#'))) {
        hooked.beforeBatchWrite = undefined
        during.push(await ask.summary(request))
      }
    }
    try {
      await aggregate(h)
    } finally {
      hooked.beforeBatchWrite = undefined
    }
    expect(during).toEqual(['allow:api-key-invoke'])
    expect(await ask.summary(request)).toBe('deny:forbid-workspace-budget-exhausted')
  })
})

describe('another instance', () => {
  it('sees a change once it re-reads the revision (at most revisionCheckMs late)', async () => {
    let now = 0
    // Another process: its own table client (so it shares nothing in memory with the app).
    const remoteDb = new Db(h.db.doc, h.db.tableName)
    const remote = new DecisionService(remoteDb, { revisionCheckMs: 5000, now: () => now })
    const strict = new DecisionService(new Db(h.db.doc, h.db.tableName), { revisionCheckMs: 0 })
    const m = await newMember()
    const request: ProductRequest = {
      principal: { type: 'Member', id: m },
      action: 'use_studio',
      resource: { type: 'Workspace', id: ws },
    }
    const decide = async (service: DecisionService) =>
      (await service.authorize(org.id, request, h.clock.now())).decision
    expect(await decide(remote)).toBe('deny')
    expect(await decide(strict)).toBe('deny')
    await api.put(`/v1/workspaces/${ws}/access/members/${m}`, { roles: ['dev'] })
    expect(await decide(strict)).toBe('allow')
    now += 4999
    expect(await decide(remote)).toBe('deny')
    now += 1
    expect(await decide(remote)).toBe('allow')
  })
})
