import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StoreDecisionService as DecisionService } from '../functions/app/decisions.js'
import type { ProductRequest } from '../functions/authz/decisions.js'
import { buildWorkspace } from '../functions/domain/workspaces.js'
import { newId } from '../functions/lib/ids.js'
import type { Member, WorkspaceGrant } from '../functions/model/index.js'
import { Db } from '../functions/store/db.js'
import { grants } from '../functions/store/grants.js'
import { groups as groupStore } from '../functions/store/groups.js'
import { members } from '../functions/store/members.js'
import { revisions } from '../functions/store/revisions.js'
import { workspaces } from '../functions/store/workspaces.js'
import { as, type Caller, email } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/**
 * What a decision reads (docs/authorization.md): one GetItem of the revision when the cache
 * is due a check, then — only for facts not cached — one BatchGetItem for the organization,
 * workspace, budget state, member, seats and own grant, and one per nesting level of the
 * member's groups. Growing the organization adds nothing.
 */
let h: Harness
let api: Caller
let orgId: string
let requests: Record<string, number> = {}
let counting: Db
let ws: string
let member: string
let clockMs = 0

beforeAll(async () => {
  h = await startHarness()
  const org = await createOrg(h)
  orgId = org.id
  api = as(h, org.adminKey)
  const doc = new Proxy(h.db.doc, {
    get(target, property, receiver) {
      if (property === 'send') {
        return (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
          const name = command.constructor.name.replace('Command', '')
          requests[name] = (requests[name] ?? 0) + 1
          return target.send(command)
        }
      }
      return Reflect.get(target, property, receiver)
    },
  })
  counting = new Db(doc, h.db.tableName)
  ws = (await api.create('/v1/workspaces', { name: 'Product' })).id
  member = (await api.create('/v1/members', { email: email(), name: 'Subject' })).id
  // member ∈ team ⊂ department ⊂ company, and member ∈ guild.
  const groups: Record<string, string> = {}
  for (const name of ['team', 'department', 'company', 'guild']) {
    groups[name] = (await api.create('/v1/groups', { name })).id
  }
  await api.create(`/v1/groups/${groups.department}/subgroups/${groups.team}`, undefined, 'PUT')
  await api.create(`/v1/groups/${groups.company}/subgroups/${groups.department}`, undefined, 'PUT')
  for (const g of [groups.team, groups.guild]) {
    await api.create(`/v1/groups/${g}/members/${member}`, undefined, 'PUT')
  }
  await api.create(`/v1/workspaces/${ws}/access/members/${member}`, { roles: ['user'] }, 'PUT')
  await api.create(
    `/v1/workspaces/${ws}/access/groups/${groups.company}`,
    { roles: ['dev'] },
    'PUT'
  )
})
afterAll(() => h.close())

const request = (action: string, principal = member): ProductRequest => ({
  principal: { type: 'Member', id: principal },
  action,
  resource: { type: 'Workspace', id: ws },
})

/** A service as a fresh instance would have it, over the counting table client. */
const freshService = () =>
  new DecisionService(counting, { revisionCheckMs: 1000, now: () => clockMs })

async function measure(service: DecisionService, ask: ProductRequest) {
  requests = {}
  const decision = await service.authorize(orgId, ask, h.clock.now())
  return { decision, requests: { ...requests } }
}

describe('the decision read path', () => {
  it('reads the revision, one batch of point reads, and one batch per nesting level', async () => {
    const { decision, requests: cold } = await measure(freshService(), request('use_studio'))
    expect(decision.decision).toBe('allow')
    expect(decision.determining_policies.map((p) => p.policy_id)).toEqual(['ws-dev'])
    // Revision; org + workspace + member + own grant; levels {team, guild}, {department}, {company};
    // and, beside the first batch, the workspace's rate-limit configuration (a consumption action).
    expect(cold).toEqual({ Get: 1, BatchGet: 1 + 3 + 1 })
  })

  it('reads nothing for a cached decision, and only the revision when a check is due', async () => {
    const service = freshService()
    await measure(service, request('use_studio'))
    expect((await measure(service, request('use_chat'))).requests).toEqual({})
    clockMs += 1000
    expect((await measure(service, request('read_usage'))).requests).toEqual({ Get: 1 })
    expect((await measure(service, request('use_chat'))).requests).toEqual({})
  })

  it('does not read more when the organization grows', async () => {
    const before = (await measure(freshService(), request('use_studio'))).requests
    const now = h.clock.now()
    const at = now.toISOString()
    const more = Array.from({ length: 200 }, (_, i) =>
      buildWorkspace(orgId, { name: `w${i}` }, now)
    )
    await workspaces.putMany(h.db, orgId, more)
    const others: Member[] = Array.from({ length: 500 }, (_, i) => ({
      id: newId('member', now),
      object: 'member',
      organization_id: orgId,
      email: `bulk${i}@example.com`,
      name: `B${i}`,
      org_role: 'member',
      status: 'active',
      given_name: null,
      family_name: null,
      external_id: null,
      scim_managed: false,
      created_at: at,
      updated_at: at,
      version: 1,
    }))
    await members.putMany(
      h.db,
      others.map((m) => ({ member: m, groupIds: [] }))
    )
    const grantList: WorkspaceGrant[] = others.flatMap((m, i) =>
      [ws, more[i % more.length]!.id].map((workspaceId) => ({
        object: 'workspace_grant' as const,
        organization_id: orgId,
        workspace_id: workspaceId,
        principal: { type: 'member' as const, id: m.id },
        roles: ['user' as const],
        created_at: at,
        updated_at: at,
        version: 1,
      }))
    )
    await grants.putMany(h.db, grantList)
    await revisions.bump(h.db, orgId)
    const after = (await measure(freshService(), request('use_studio'))).requests
    expect(after).toEqual(before)
  })

  it('reads once for an API key, twice for one owned by a member', async () => {
    const plain = (await api.create('/v1/api-keys', { name: 'p', workspace_id: ws })).id
    const owned = (
      await api.create('/v1/api-keys', { name: 'o', workspace_id: ws, member_id: member })
    ).id
    const key = (id: string): ProductRequest => ({
      principal: { type: 'ApiKey', id },
      action: 'invoke_model',
      resource: { type: 'Workspace', id: ws },
    })
    // Each + the workspace's rate-limit configuration (invoke_model is a consumption action).
    expect((await measure(freshService(), key(plain))).requests).toEqual({ Get: 1, BatchGet: 2 })
    expect((await measure(freshService(), key(owned))).requests).toEqual({ Get: 1, BatchGet: 3 })
  })

  it('reads a batch of decisions about many members together', async () => {
    const ids: string[] = []
    for (let i = 0; i < 30; i++) {
      ids.push((await api.create('/v1/members', { email: email(), name: `N${i}` })).id)
    }
    requests = {}
    const service = freshService()
    const decisions = await service.authorizeMany(
      orgId,
      ids.map((id) => request('use_chat', id)),
      h.clock.now()
    )
    expect(decisions.every((d) => d.decision === 'deny' && d.errors.length === 0)).toBe(true)
    // 30 members × (member, 2 seats, grant) + organization (4) + workspace (3): 127 keys, so
    // two BatchGetItem calls of at most 100 keys — not one read per request — and one of the
    // workspace's rate-limit configuration (use_chat is a consumption action).
    expect(requests).toEqual({ Get: 1, BatchGet: 3 })
  })

  it('a member being removed is unknown, and a group being deleted grants nothing', async () => {
    const leaver = (
      await api.create('/v1/members', {
        email: email('leaver'),
        name: 'Leaver',
        workspaces: [{ workspace_id: ws, roles: ['dev'] }],
      })
    ).id
    const stored = (await members.find(h.db, orgId, leaver))!
    // What the first step of a removal leaves (the cascade has not run yet).
    await members.save(h.db, stored.member, stored.member.version, 'removing')
    await revisions.bump(h.db, orgId)
    const gone = (await measure(freshService(), request('use_studio', leaver))).decision
    expect(gone.decision).toBe('deny')
    expect(gone.errors.map((e) => e.code)).toEqual(['unknown_principal'])

    const joiner = (await api.create('/v1/members', { email: email('joiner'), name: 'J' })).id
    const group = await api.create('/v1/groups', { name: 'doomed' })
    await api.create(`/v1/groups/${group.id}/members/${joiner}`, undefined, 'PUT')
    await api.create(
      `/v1/workspaces/${ws}/access/groups/${group.id}`,
      { roles: ['billing'] },
      'PUT'
    )
    expect((await measure(freshService(), request('read_usage', joiner))).decision.decision).toBe(
      'allow'
    )
    const current = (await groupStore.find(h.db, orgId, group.id))!.group
    await groupStore.save(h.db, current, current.version, 'deleting')
    await revisions.bump(h.db, orgId)
    expect((await measure(freshService(), request('read_usage', joiner))).decision.decision).toBe(
      'deny'
    )
  })
})
