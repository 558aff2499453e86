import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { putGrant } from '../functions/domain/access.js'
import { createApiKey, revokeApiKey } from '../functions/domain/api-keys.js'
import type { ServiceContext } from '../functions/domain/context.js'
import { addGroupMember, addSubgroup, createGroup } from '../functions/domain/groups.js'
import { createMember, updateMember } from '../functions/domain/members.js'
import { createOrganization } from '../functions/domain/organizations.js'
import { assignSeat, setPurchasedSeats } from '../functions/domain/seats.js'
import { archiveWorkspace, createWorkspace } from '../functions/domain/workspaces.js'
import {
  ORG_ROLES,
  type OrgRole,
  PRODUCT_ACTIONS,
  type ProductAction,
  WORKSPACE_ROLES,
  type WorkspaceRole,
} from '../functions/model/index.js'
import { revisions } from '../functions/store/revisions.js'
import { budgetStates } from '../functions/store/usage/budgets.js'
import { type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey } from './helpers/usage.js'

/**
 * Differential test: random organizations (members with org roles and statuses, nested groups
 * with org roles, grants to members and groups, seats, archived workspaces, exhausted budgets,
 * API keys revoked, expired or owned by deactivated members) are built in the store, then every
 * principal × workspace × product action is decided through POST /v1/authorize/batch and
 * compared with an independent computation of the contract's role table over the generated
 * model (no Cedar, no store).
 */

// ----- The generated model ---------------------------------------------------------------

interface Model {
  /** Index 0 is the default workspace (never archived). */
  workspaces: { archived: boolean; suspended: boolean }[]
  organizationSuspended: boolean
  sellsChatSeats: boolean
  /** `parents` are indexes of later groups, so nesting never cycles. */
  groups: { orgRole: OrgRole | null; parents: number[] }[]
  members: {
    orgRole: OrgRole
    active: boolean
    groups: number[]
    seats: ('chat' | 'code')[]
  }[]
  /** Applied in order: a later grant of the same (workspace, principal) replaces the roles. */
  grants: {
    workspace: number
    principal: 'member' | 'group'
    index: number
    roles: WorkspaceRole[]
  }[]
  keys: { workspace: number; owner: number | null; revoked: boolean; expired: boolean }[]
}

const modelArbitrary: fc.Arbitrary<Model> = fc
  .record({
    extraWorkspaces: fc.array(fc.record({ archived: fc.boolean(), suspended: fc.boolean() }), {
      maxLength: 2,
    }),
    defaultSuspended: fc.boolean(),
    organizationSuspended: fc.constantFrom(false, false, false, true),
    sellsChatSeats: fc.boolean(),
    groupCount: fc.integer({ min: 0, max: 5 }),
    groupSeeds: fc.array(
      fc.record({
        orgRole: fc.option(fc.constantFrom(...ORG_ROLES), { freq: 4 }),
        parents: fc.array(fc.nat(), { maxLength: 2 }),
      }),
      { minLength: 5, maxLength: 5 }
    ),
    members: fc.array(
      fc.record({
        orgRole: fc.constantFrom<OrgRole>('member', 'member', 'member', ...ORG_ROLES),
        active: fc.constantFrom(true, true, false),
        groups: fc.array(fc.nat(), { maxLength: 2 }),
        seats: fc.subarray(['chat', 'code'] as ('chat' | 'code')[]),
      }),
      { minLength: 1, maxLength: 4 }
    ),
    grants: fc.array(
      fc.record({
        workspace: fc.nat(),
        principal: fc.constantFrom<'member' | 'group'>('member', 'group'),
        index: fc.nat(),
        roles: fc.subarray([...WORKSPACE_ROLES], { minLength: 1, maxLength: 2 }),
      }),
      { maxLength: 8 }
    ),
    keys: fc.array(
      fc.record({
        workspace: fc.nat(),
        owner: fc.option(fc.nat()),
        revoked: fc.constantFrom(false, false, true),
        expired: fc.constantFrom(false, false, true),
      }),
      { maxLength: 3 }
    ),
  })
  .map((raw) => {
    const workspaces = [
      { archived: false, suspended: raw.defaultSuspended },
      ...raw.extraWorkspaces,
    ]
    const groups = raw.groupSeeds.slice(0, raw.groupCount).map((seed, i, all) => ({
      orgRole: seed.orgRole,
      parents: [
        ...new Set(
          i + 1 < all.length ? seed.parents.map((p) => i + 1 + (p % (all.length - i - 1))) : []
        ),
      ],
    }))
    const members = raw.members.map((m) => ({
      ...m,
      groups: groups.length ? [...new Set(m.groups.map((g) => g % groups.length))] : [],
      seats: m.seats.filter((s) => s === 'code' || raw.sellsChatSeats),
    }))
    const grants = raw.grants
      .filter((g) => g.principal === 'member' || groups.length > 0)
      .map((g) => ({
        ...g,
        workspace: g.workspace % workspaces.length,
        index: g.index % (g.principal === 'member' ? members.length : groups.length),
      }))
    const keys = raw.keys.map((k) => ({
      ...k,
      workspace: k.workspace % workspaces.length,
      owner: k.owner === null ? null : k.owner % members.length,
    }))
    return {
      workspaces,
      organizationSuspended: raw.organizationSuspended,
      sellsChatSeats: raw.sellsChatSeats,
      groups,
      members,
      grants,
      keys,
    }
  })

// ----- The reference: the contract's role table ------------------------------------------

const CONSUMPTION = new Set<ProductAction>(['use_chat', 'use_studio', 'use_code', 'invoke_model'])

/** Which workspace roles allow each action (contract, "Roles"); workspace_admin allows all. */
const ROLE_TABLE: Record<ProductAction, WorkspaceRole[]> = {
  use_chat: ['user', 'workspace_contributor'],
  use_studio: ['dev', 'workspace_contributor'],
  use_code: ['code_user', 'workspace_contributor'],
  // An active API key of the workspace, or a member allowed use_studio.
  invoke_model: ['dev', 'workspace_contributor'],
  manage_api_keys: ['dev', 'workspace_contributor'],
  read_usage: ['billing'],
  view_observability: ['observability_viewer'],
  administer_workspace: ['workspace_admin'],
}

function groupsContaining(model: Model, direct: number[]): Set<number> {
  const reached = new Set<number>()
  const stack = [...direct]
  while (stack.length) {
    const g = stack.pop()!
    if (reached.has(g)) continue
    reached.add(g)
    stack.push(...model.groups[g]!.parents)
  }
  return reached
}

function rolesIn(model: Model, workspace: number, principal: 'member' | 'group', index: number) {
  let roles: WorkspaceRole[] =
    principal === 'member' && workspace === 0 ? ['workspace_contributor'] : []
  for (const g of model.grants) {
    if (g.workspace === workspace && g.principal === principal && g.index === index) roles = g.roles
  }
  return roles
}

function expected(
  model: Model,
  principal: { type: 'member' | 'key'; index: number },
  workspace: number,
  action: ProductAction
): boolean {
  const ws = model.workspaces[workspace]!
  if (ws.archived) return false
  if (CONSUMPTION.has(action) && (ws.suspended || model.organizationSuspended)) return false
  if (principal.type === 'key') {
    const key = model.keys[principal.index]!
    const ownerActive = key.owner === null || model.members[key.owner]!.active
    return (
      action === 'invoke_model' &&
      key.workspace === workspace &&
      !key.revoked &&
      !key.expired &&
      ownerActive
    )
  }
  const member = model.members[principal.index]!
  if (!member.active) return false
  if (action === 'use_chat' && model.sellsChatSeats && !member.seats.includes('chat')) return false
  if (action === 'use_code' && !member.seats.includes('code')) return false
  const groups = groupsContaining(model, member.groups)
  const orgRoles = new Set<OrgRole>([member.orgRole])
  const roles = new Set<WorkspaceRole>(rolesIn(model, workspace, 'member', principal.index))
  for (const g of groups) {
    const role = model.groups[g]!.orgRole
    if (role) orgRoles.add(role)
    for (const r of rolesIn(model, workspace, 'group', g)) roles.add(r)
  }
  if (orgRoles.has('organization_admin')) return true
  if (action === 'read_usage' && orgRoles.has('billing_manager')) return true
  if (roles.has('workspace_admin')) return true
  return ROLE_TABLE[action].some((role) => roles.has(role))
}

// ----- Building the model in the store ---------------------------------------------------

let h: Harness
let svc: string
let ctx: ServiceContext
let built = 0

beforeAll(async () => {
  h = await startHarness()
  svc = await createServiceKey(h)
  ctx = { db: h.db, clock: h.clock, actor: { type: 'system', id: 'test' }, requestId: null }
})
afterAll(() => h.close())

async function build(model: Model) {
  const n = ++built
  const { organization, default_workspace } = await createOrganization(ctx, { name: `Org ${n}` })
  const org = organization.id
  const workspaceIds = [default_workspace.id]
  for (let i = 1; i < model.workspaces.length; i++) {
    workspaceIds.push((await createWorkspace(ctx, org, { name: `ws ${i}` })).id)
  }
  const groupIds: string[] = []
  for (const [i, group] of model.groups.entries()) {
    groupIds.push((await createGroup(ctx, org, { name: `g${i}`, org_role: group.orgRole })).id)
  }
  for (const [i, group] of model.groups.entries()) {
    for (const parent of group.parents) await addSubgroup(ctx, org, groupIds[parent]!, groupIds[i]!)
  }
  await setPurchasedSeats(ctx, org, 'chat', model.sellsChatSeats ? 10 : 0)
  await setPurchasedSeats(ctx, org, 'code', 10)
  // An active admin member outside the model, so deactivating a modelled admin is allowed.
  await createMember(ctx, org, {
    email: `keeper${n}@example.com`,
    name: 'K',
    org_role: 'organization_admin',
  })
  const memberIds: string[] = []
  for (const [i, member] of model.members.entries()) {
    const { id } = await createMember(ctx, org, {
      email: `m${n}-${i}@example.com`,
      name: `M${i}`,
      org_role: member.orgRole,
    })
    memberIds.push(id)
    for (const g of member.groups) await addGroupMember(ctx, org, groupIds[g]!, id)
    for (const product of member.seats) await assignSeat(ctx, org, product, id)
  }
  for (const grant of model.grants) {
    const principalId = (grant.principal === 'member' ? memberIds : groupIds)[grant.index]!
    await putGrant(
      ctx,
      org,
      workspaceIds[grant.workspace]!,
      { type: grant.principal, id: principalId },
      grant.roles
    )
  }
  const now = h.clock.now().getTime()
  const keyIds: string[] = []
  for (const key of model.keys) {
    const created = await createApiKey(ctx, org, {
      name: 'k',
      workspace_id: workspaceIds[key.workspace]!,
      member_id: key.owner === null ? null : memberIds[key.owner]!,
      expires_at: new Date(now + (key.expired ? 60_000 : 86_400_000)).toISOString(),
    })
    keyIds.push(created.id)
    if (key.revoked) await revokeApiKey(ctx, org, created.id)
  }
  for (const [i, member] of model.members.entries()) {
    if (!member.active) await updateMember(ctx, org, memberIds[i]!, { status: 'deactivated' })
  }
  for (const [i, ws] of model.workspaces.entries()) {
    if (ws.archived) await archiveWorkspace(ctx, org, workspaceIds[i]!)
  }
  // The aggregation job's output, set directly (then the revision bump the job would make).
  const month = h.clock.now().toISOString().slice(0, 7)
  await budgetStates.putMany(
    h.db,
    [
      { workspace: null, suspended: model.organizationSuspended },
      ...model.workspaces.map((ws, i) => ({
        workspace: workspaceIds[i]!,
        suspended: ws.suspended,
      })),
    ].map(({ workspace, suspended }) => ({
      organization_id: org,
      workspace_id: workspace,
      month,
      spend_micros: 0,
      limit_micros: 1,
      enforcement: 'hard' as const,
      alert_thresholds_percent: [100],
      percent_used: suspended ? 100 : 0,
      forecast_micros: 0,
      state: suspended ? ('exceeded' as const) : ('ok' as const),
      suspended,
      alerts: [],
      last_evaluated_at: h.clock.now().toISOString(),
    }))
  )
  await revisions.bump(h.db, org)
  return { org, workspaceIds, memberIds, keyIds }
}

describe('decisions agree with the contract role table', () => {
  it('on every request over random organizations', async () => {
    await fc.assert(
      fc.asyncProperty(modelArbitrary, async (model) => {
        const { org, workspaceIds, memberIds, keyIds } = await build(model)
        // Keys modelled as expired expire one minute after creation.
        h.clock.advance(120_000)
        const asks = [
          ...memberIds.map((id, index) => ({ type: 'member' as const, index, id })),
          ...keyIds.map((id, index) => ({ type: 'key' as const, index, id })),
        ].flatMap((principal) =>
          workspaceIds.flatMap((workspaceId, workspace) =>
            PRODUCT_ACTIONS.map((action) => ({ principal, workspace, workspaceId, action }))
          )
        )
        for (let start = 0; start < asks.length; start += 100) {
          const chunk = asks.slice(start, start + 100)
          const res = await h.call('POST', '/v1/authorize/batch', {
            key: svc,
            body: {
              organization_id: org,
              requests: chunk.map((a) => ({
                principal: {
                  type: a.principal.type === 'member' ? 'Member' : 'ApiKey',
                  id: a.principal.id,
                },
                action: a.action,
                resource: { type: 'Workspace', id: a.workspaceId },
              })),
            },
          })
          expect(res.status).toBe(200)
          chunk.forEach((a, i) => {
            const result = res.body.results[i]
            const want = expected(model, a.principal, a.workspace, a.action)
            const label = `${a.principal.type}#${a.principal.index} ${a.action} ws${a.workspace}`
            expect(result.errors, label).toEqual([])
            expect(result.decision, label).toBe(want ? 'allow' : 'deny')
            if (want) expect(result.determining_policies.length, label).toBeGreaterThan(0)
          })
        }
      }),
      { numRuns: 25 }
    )
  }, 180_000)
})
