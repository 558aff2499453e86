import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CustomPolicy,
  ORG_ROLES,
  type OrgRole,
  PRODUCT_ACTIONS,
  type Product,
  WORKSPACE_ROLES,
} from '../model/index.js'
import {
  type AdminAction,
  type AdminResource,
  ADMIN_ACTIONS as ALL_ADMIN_ACTIONS,
  adminRequest,
} from './admin.js'
import { DecisionService, type ProductRequest } from './decisions.js'
import {
  type AuthorizationRequest,
  builtinPolicySet,
  cedarInstance,
  type Decision,
  decideAdmin,
  fastPathDecisions,
} from './engine.js'
import { MemoryDecisionFacts } from './memory-facts.js'

/**
 * Differential test of the decision fast path (the decision cache and whatever the service does
 * to make Cedar cheaper) against the plain path: the full Cedar request the request builder
 * makes, given to cedar-wasm's `statefulIsAuthorized` with schema validation. Random
 * organizations, random sequences of requests (many exact repeats, so the cache answers),
 * changes between them (each a new revision) and request times on both sides of API key
 * expiries; the decision, the determining policies and the errors must be the same.
 */
const ORG = 'org_1'
const BASE = Date.parse('2026-11-27T10:00:00.000Z')
const MINUTE = 60_000
const WORKSPACES = ['ws_0', 'ws_1', 'ws_2']
const MEMBERS = ['mem_0', 'mem_1', 'mem_2', 'mem_3']
const GROUPS = ['grp_0', 'grp_1', 'grp_2']
const KEYS = ['key_0', 'key_1', 'key_2']

/** Custom policies an organization may hold: one reads the time, one the caller's context. */
const CUSTOM: Record<string, string> = {
  'custom-after-hours': `@id("custom-after-hours")
forbid (principal, action == Action::"use_code", resource)
when { context.now > datetime("2026-11-27T10:03:00Z") };`,
  'custom-model': `@id("custom-model")
permit (principal is Member, action == Action::"use_chat", resource)
when { context has model && context.model == "claude-haiku" };`,
}

function customPolicy(id: string): CustomPolicy {
  return {
    id,
    object: 'policy',
    organization_id: ORG,
    source: 'custom',
    effect: CUSTOM[id]!.includes('forbid') ? 'forbid' : 'permit',
    description: id,
    cedar: CUSTOM[id]!,
    created_at: new Date(BASE).toISOString(),
    updated_at: new Date(BASE).toISOString(),
    version: 1,
  }
}

type Change =
  | { kind: 'member'; index: number; status: 'active' | 'deactivated'; orgRole: number }
  | { kind: 'grant'; workspace: number; member: number; roles: number[] }
  | { kind: 'key'; index: number; status: 'active' | 'revoked'; expiresInMinutes: number | null }
  | { kind: 'workspace'; index: number; archived: boolean; suspended: boolean }
  | { kind: 'policies'; ids: string[] }

type Step =
  | { kind: 'decide'; request: number; minutes: number }
  | { kind: 'admin'; key: number; action: number; workspace: number | null }
  | { kind: 'change'; change: Change }

const changeArbitrary: fc.Arbitrary<Change> = fc.oneof(
  fc.record({
    kind: fc.constant('member' as const),
    index: fc.nat(MEMBERS.length - 1),
    status: fc.constantFrom('active' as const, 'active' as const, 'deactivated' as const),
    orgRole: fc.nat(ORG_ROLES.length),
  }),
  fc.record({
    kind: fc.constant('grant' as const),
    workspace: fc.nat(WORKSPACES.length - 1),
    member: fc.nat(MEMBERS.length - 1),
    roles: fc.uniqueArray(fc.nat(WORKSPACE_ROLES.length - 1), { maxLength: 2 }),
  }),
  fc.record({
    kind: fc.constant('key' as const),
    index: fc.nat(KEYS.length - 1),
    status: fc.constantFrom('active' as const, 'revoked' as const),
    expiresInMinutes: fc.option(fc.integer({ min: 1, max: 4 })),
  }),
  fc.record({
    kind: fc.constant('workspace' as const),
    index: fc.integer({ min: 1, max: WORKSPACES.length - 1 }),
    archived: fc.boolean(),
    suspended: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('policies' as const),
    ids: fc.subarray(Object.keys(CUSTOM)),
  })
)

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('decide' as const),
      request: fc.nat(23),
      minutes: fc.nat(5),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('admin' as const),
      key: fc.nat(1),
      action: fc.nat(5),
      workspace: fc.option(fc.nat(WORKSPACES.length - 1)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('change' as const), change: changeArbitrary }),
  }
)

/** 24 requests: members and keys × a few actions and workspaces, some with caller context. */
function requestOf(index: number): ProductRequest {
  const principals = [
    ...MEMBERS.map((id) => ({ type: 'Member' as const, id })),
    ...KEYS.map((id) => ({ type: 'ApiKey' as const, id })),
    { type: 'Member' as const, id: 'mem_unknown' },
  ]
  const principal = principals[index % principals.length]!
  const action = PRODUCT_ACTIONS[(index * 5) % PRODUCT_ACTIONS.length]!
  const workspace = WORKSPACES[index % WORKSPACES.length]!
  // Contexts the fast path takes (none, a model) and ones it leaves to the plain path.
  const contexts: (Record<string, unknown> | undefined)[] = [
    { model: 'claude-haiku' },
    { model: 'claude-sonnet-4' },
    { source_ip: '10.0.0.1' },
    { team: 'research' },
    undefined,
    undefined,
  ]
  const context = contexts[Math.floor(index / 2) % contexts.length]
  return {
    principal,
    action,
    resource: { type: 'Workspace', id: workspace },
    ...(context ? { context } : {}),
  }
}

const ADMIN_ACTIONS: AdminAction[] = [
  'read_organization',
  'read_workspace',
  'manage_members',
  'request_decisions',
  'update_workspace',
  'read_usage_reports',
]

function seed(): MemoryDecisionFacts {
  const facts = new MemoryDecisionFacts()
  facts.setOrganization(ORG, { suspended: false, sellsChatSeats: true })
  WORKSPACES.forEach((id, i) => {
    facts.setWorkspace(ORG, { id, archived: false, isDefault: i === 0 })
  })
  GROUPS.forEach((id, i) => {
    facts.setGroup(ORG, {
      id,
      orgRole: null,
      parentIds: i + 1 < GROUPS.length ? [GROUPS[i + 1]!] : [],
    })
  })
  facts.setGrant(ORG, { workspaceId: 'ws_1', type: 'group', id: 'grp_2' }, ['dev'])
  MEMBERS.forEach((id, i) => {
    const seats: Product[] = i % 2 === 0 ? ['chat'] : ['code']
    facts.setMember(ORG, {
      id,
      status: 'active',
      orgRole: 'member',
      groupIds: i < GROUPS.length ? [GROUPS[i]!] : [],
      seats,
    })
    facts.setGrant(ORG, { workspaceId: WORKSPACES[i % 3]!, type: 'member', id }, [
      'user',
      'code_user',
    ])
  })
  KEYS.forEach((id, i) => {
    facts.setApiKey(ORG, {
      id,
      status: 'active',
      expiresAt: i === 0 ? new Date(BASE + 2 * MINUTE).toISOString() : null,
      workspaceId: WORKSPACES[i]!,
      memberId: i === 2 ? 'mem_1' : null,
    })
  })
  return facts
}

function apply(facts: MemoryDecisionFacts, change: Change): void {
  switch (change.kind) {
    case 'member': {
      const id = MEMBERS[change.index]!
      facts.setMember(ORG, {
        id,
        status: change.status,
        orgRole: ORG_ROLES[change.orgRole] ?? 'member',
        groupIds: change.index < GROUPS.length ? [GROUPS[change.index]!] : [],
        seats: ['chat', 'code'],
      })
      return
    }
    case 'grant':
      facts.setGrant(
        ORG,
        { workspaceId: WORKSPACES[change.workspace]!, type: 'member', id: MEMBERS[change.member]! },
        change.roles.map((r) => WORKSPACE_ROLES[r]!)
      )
      return
    case 'key':
      facts.setApiKey(ORG, {
        id: KEYS[change.index]!,
        status: change.status,
        expiresAt:
          change.expiresInMinutes === null
            ? null
            : new Date(BASE + change.expiresInMinutes * MINUTE).toISOString(),
        workspaceId: WORKSPACES[change.index]!,
        memberId: null,
      })
      return
    case 'workspace':
      facts.setWorkspace(
        ORG,
        { id: WORKSPACES[change.index]!, archived: change.archived, isDefault: false },
        change.suspended
      )
      return
    case 'policies':
      facts.setPolicies(ORG, change.ids.map(customPolicy))
  }
}

/** The plain path: the full Cedar request, straight to statefulIsAuthorized with validation. */
async function plain(service: DecisionService, request: ProductRequest, now: Date) {
  const built = await service.cedarRequest(ORG, request, now)
  if ('errors' in built)
    return summary({ decision: 'deny', determining_policies: [], errors: built.errors })
  return plainDecision(built.request, built.policySet.id)
}

/** `request` given to cedar-wasm's `statefulIsAuthorized` with the schema and validation. */
function plainDecision(request: AuthorizationRequest, policySetId: string) {
  const answer = cedarInstance().statefulIsAuthorized({
    principal: request.principal,
    action: { type: 'Action', id: request.action },
    resource: request.resource,
    context: request.context ?? {},
    entities: request.entities,
    preparsedPolicySetId: policySetId,
    preparsedSchemaName: 'admin-engine',
    validateRequest: true,
  })
  if (answer.type === 'failure') {
    return {
      decision: 'deny',
      policies: [],
      errors: answer.errors.map((e) => `invalid_request:${e.message}`),
    }
  }
  return {
    decision: answer.response.decision,
    policies: [...answer.response.diagnostics.reason].sort(),
    errors: answer.response.diagnostics.errors.map(
      (e) => `policy_evaluation:${e.policyId}:${e.error.message}`
    ),
  }
}

function summary(decision: Decision) {
  return {
    decision: decision.decision,
    policies: decision.determining_policies.map((p) => p.policy_id).sort(),
    errors: decision.errors.map((e) =>
      e.code === 'policy_evaluation'
        ? `${e.code}:${e.policy_id}:${e.message}`
        : `${e.code}:${e.message}`
    ),
  }
}

describe('the decision fast path', () => {
  it('decides exactly as the plain path, determining policies and errors included', async () => {
    let repeats = 0
    let timed = 0
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(Object.keys(CUSTOM)),
        fc.array(stepArbitrary, { minLength: 10, maxLength: 60 }),
        async (policies, steps) => {
          const facts = seed()
          if (policies.length > 0) facts.setPolicies(ORG, policies.map(customPolicy))
          const fast = new DecisionService(facts)
          const reference = new DecisionService(facts, { maxCachedDecisions: 0 })
          const seen = new Set<string>()
          for (const step of steps) {
            if (step.kind === 'change') {
              apply(facts, step.change)
              continue
            }
            if (step.kind === 'admin') {
              const principal = {
                id: `adk_${step.key}`,
                organizationId: ORG,
                orgRoles:
                  step.key === 0 ? (['organization_admin'] as const) : (['member'] as const),
              }
              const resource: AdminResource =
                step.workspace === null
                  ? { type: 'Organization', organizationId: ORG }
                  : {
                      type: 'Workspace',
                      workspace: {
                        id: WORKSPACES[step.workspace]!,
                        organization_id: ORG,
                        status: 'active',
                        is_default: step.workspace === 0,
                      } as never,
                    }
              const action = ADMIN_ACTIONS[step.action]!
              const got = summary(await fast.authorizeAdmin(principal, action, resource))
              const want = summary(await reference.authorizeAdmin(principal, action, resource))
              expect(got).toEqual(want)
              continue
            }
            const request = requestOf(step.request)
            const now = new Date(BASE + step.minutes * MINUTE)
            const key = JSON.stringify(request)
            if (seen.has(key)) repeats++
            seen.add(key)
            if (request.principal.type === 'ApiKey' || request.action === 'use_code') timed++
            const got = summary(await fast.authorize(ORG, request, now))
            expect(got).toEqual(await plain(reference, request, now))
          }
        }
      ),
      { numRuns: 100, seed: 12_012 }
    )
    // Not vacuous: the cache was asked for repeats, and time-dependent decisions were among them.
    expect(repeats).toBeGreaterThan(250)
    expect(timed).toBeGreaterThan(150)
  })

  it('answers an exact repeat at the same revision from the cache, and a change anew', async () => {
    const facts = seed()
    const service = new DecisionService(facts)
    const request: ProductRequest = {
      principal: { type: 'ApiKey', id: 'key_0' },
      action: 'invoke_model',
      resource: { type: 'Workspace', id: 'ws_0' },
    }
    const before = new Date(BASE + MINUTE)
    const first = await service.authorize(ORG, request, before)
    expect(first.decision).toBe('allow')
    expect(await service.authorize(ORG, request, before)).toBe(first)
    // The key expires at BASE + 2 min: the same request later is decided again, and denied.
    const after = await service.authorize(ORG, request, new Date(BASE + 3 * MINUTE))
    expect(summary(after)).toMatchObject({ decision: 'deny', policies: ['forbid-expired-key'] })
    // A change is a new revision: the cached allow is not used.
    facts.setApiKey(ORG, {
      id: 'key_0',
      status: 'revoked',
      expiresAt: null,
      workspaceId: 'ws_0',
      memberId: null,
    })
    expect(summary(await service.authorize(ORG, request, before))).toMatchObject({
      decision: 'deny',
      policies: ['forbid-revoked-key'],
    })
  })
})

describe('the fast path per (principal type, action) pair', () => {
  it('decides every pair by its policy subset exactly as the plain path; custom sets go the plain way', async () => {
    const principals = [
      ...MEMBERS.map((id) => ({ type: 'Member' as const, id })),
      ...KEYS.map((id) => ({ type: 'ApiKey' as const, id })),
    ]
    const contexts = [undefined, { model: 'claude-haiku' }, { source_ip: '10.0.0.1' }]
    const memberArbitrary = fc.record({
      orgRole: fc.constantFrom(...ORG_ROLES),
      status: fc.constantFrom('active' as const, 'active' as const, 'deactivated' as const),
      seats: fc.subarray(['chat', 'code'] as Product[]),
    })
    const pairs = principals.flatMap((p) => PRODUCT_ACTIONS.map((a) => `${p.type}/${a}`))
    const expected = new Map<string, number>()
    const outcomes = new Map<string, Set<string>>()
    const before = new Map(fastPathDecisions)
    await fc.assert(
      fc.asyncProperty(
        fc.array(memberArbitrary, { minLength: MEMBERS.length, maxLength: MEMBERS.length }),
        fc.array(changeArbitrary, { maxLength: 16 }),
        fc.nat(5),
        async (memberSetup, changes, minutes) => {
          const facts = seed()
          memberSetup.forEach((setup, i) => {
            facts.setMember(ORG, {
              id: MEMBERS[i]!,
              ...setup,
              groupIds: i < GROUPS.length ? [GROUPS[i]!] : [],
            })
          })
          let custom = false
          for (const change of changes) {
            apply(facts, change)
            if (change.kind === 'policies') custom = change.ids.length > 0
          }
          const fast = new DecisionService(facts, { maxCachedDecisions: 0 })
          const reference = new DecisionService(facts, { maxCachedDecisions: 0 })
          const now = new Date(BASE + minutes * MINUTE)
          for (const principal of principals) {
            for (const action of PRODUCT_ACTIONS) {
              const pair = `${principal.type}/${action}`
              for (const workspace of WORKSPACES) {
                for (const context of contexts) {
                  const request: ProductRequest = {
                    principal,
                    action,
                    resource: { type: 'Workspace', id: workspace },
                    ...(context ? { context } : {}),
                  }
                  const got = summary(await fast.authorize(ORG, request, now))
                  expect(got).toEqual(await plain(reference, request, now))
                  if (!custom && !context?.source_ip) {
                    expected.set(pair, (expected.get(pair) ?? 0) + 1)
                  }
                  if (!outcomes.has(pair)) outcomes.set(pair, new Set())
                  outcomes.get(pair)!.add(got.decision)
                }
              }
            }
          }
        }
      ),
      { numRuns: 12, seed: 12_013 }
    )
    for (const pair of new Set(pairs)) {
      // Exactly the built-in-set requests with a context the fast path takes went through it.
      const taken = (fastPathDecisions.get(pair) ?? 0) - (before.get(pair) ?? 0)
      expect(taken, pair).toBe(expected.get(pair))
      expect(taken, pair).toBeGreaterThan(0)
      // Not vacuous: the pair was both allowed and denied, where a built-in permit can allow it.
      const canAllow = pair.startsWith('Member/') || pair === 'ApiKey/invoke_model'
      expect(outcomes.get(pair), pair).toEqual(new Set(canAllow ? ['allow', 'deny'] : ['deny']))
    }
  })
})

describe('the fast path for Admin decisions', () => {
  it('decides every Admin action for every role set and resource exactly as the plain path', () => {
    const roleSets: OrgRole[][] = [
      [],
      ...ORG_ROLES.map((role) => [role]),
      ['organization_admin', 'billing_manager'],
      ['member', 'billing_manager'],
    ]
    const workspace = (isDefault: boolean, status: 'active' | 'archived') =>
      ({
        type: 'Workspace',
        workspace: { id: 'ws_1', organization_id: ORG, status, is_default: isDefault } as never,
      }) as AdminResource
    // Every resource each action can be asked about, and one it cannot (the plain path's
    // request validation refuses that; the fast path must leave it to the plain path).
    const resources: AdminResource[] = [
      { type: 'Organization', organizationId: ORG },
      workspace(true, 'active'),
      workspace(false, 'active'),
      workspace(false, 'archived'),
    ]
    const actions = Object.keys(ALL_ADMIN_ACTIONS) as AdminAction[]
    const before = new Map(fastPathDecisions)
    const outcomes = new Map<string, Set<string>>()
    let compared = 0
    for (const action of actions) {
      for (const orgRoles of roleSets) {
        for (const resource of resources) {
          for (const suspended of [false, true]) {
            for (const workspaceSuspended of resource.type === 'Workspace'
              ? [false, true]
              : [false]) {
              const request = adminRequest(
                { id: 'adk_1', organizationId: ORG, orgRoles },
                action,
                resource,
                {
                  organization: { id: ORG, suspended, sellsChatSeats: true },
                  workspaceSuspended,
                }
              )
              const got = summary(decideAdmin(request))
              expect(got, `${action} ${orgRoles} ${resource.type}`).toEqual(
                plainDecision(request, builtinPolicySet.id)
              )
              compared++
              if (!outcomes.has(action)) outcomes.set(action, new Set())
              outcomes.get(action)!.add(got.decision)
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(1_000)
    for (const action of actions) {
      // Not vacuous: every action went through its pair, and some role may do it, some not.
      const pair = `AdminKey/${action}`
      expect((fastPathDecisions.get(pair) ?? 0) - (before.get(pair) ?? 0), pair).toBeGreaterThan(0)
      expect(outcomes.get(action), action).toEqual(new Set(['allow', 'deny']))
    }
  })

  it('leaves an organization with custom policies to the plain path', async () => {
    const facts = seed()
    facts.setPolicies(ORG, Object.keys(CUSTOM).map(customPolicy))
    const service = new DecisionService(facts, { maxCachedDecisions: 0 })
    const before = fastPathDecisions.get('AdminKey/read_organization') ?? 0
    const decision = await service.authorizeAdmin(
      { id: 'adk_1', organizationId: ORG, orgRoles: ['organization_admin'] },
      'read_organization',
      { type: 'Organization', organizationId: ORG }
    )
    expect(decision.decision).toBe('allow')
    expect(fastPathDecisions.get('AdminKey/read_organization') ?? 0).toBe(before)
  })
})
