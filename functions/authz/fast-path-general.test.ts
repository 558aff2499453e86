import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ORG_ROLES, PRODUCT_ACTIONS, type Product, WORKSPACE_ROLES } from '../model/index.js'
import { loadCedar } from './cedar.js'
import { DecisionService, type ProductRequest } from './decisions.js'
import { builtinPolicies, type EntityJson, schemaJson, schemaProductActions } from './engine.js'
import { readsOf, trimRequest } from './fast-path.js'
import { actionAndGroups, type PolicyJson, pairKey, planFastPath } from './fast-path-plan.js'
import { MemoryDecisionFacts } from './memory-facts.js'

/**
 * The fast path's plan and trimming hold for policies other than today's built-ins: the
 * built-ins plus policies that read what the built-ins do not (a group literal, the action,
 * the context whole, a record compared whole, an entity attribute compared, an org role
 * literal) are planned like the built-ins, and each pair's subset over the trimmed request
 * must decide every request as the whole set over the full request with the schema.
 */
const EXTRA: Record<string, string> = {
  'x-group':
    'permit (principal in Group::"grp_2", action == Action::"use_studio", resource is Workspace);',
  'x-action': `forbid (principal, action, resource)
    when { action in Action::"consumption" && context has model && context.model == "blocked" };`,
  'x-record': `permit (principal is Member, action == Action::"read_usage", resource)
    when {
      principal.organization == resource.organization &&
      resource.roles != { workspace_admin: resource.roles.workspace_admin, billing: resource.roles.billing }
    };`,
  'x-key-workspace': `forbid (principal is ApiKey, action, resource)
    when { principal.workspace != resource };`,
  'x-context': `permit (principal, action in [Action::"view_observability"], resource)
    when { context != {} };`,
  'x-org-role': `forbid (principal is Member, action == Action::"use_code", resource)
    when { principal in OrgRole::"member" && !principal.seats.contains("chat") };`,
}

const ORG = 'org_1'
const NOW = new Date('2026-11-27T10:00:00.000Z')
const WORKSPACES = ['ws_0', 'ws_1', 'ws_2']
const MEMBERS = ['mem_0', 'mem_1', 'mem_2', 'mem_3']
const GROUPS = ['grp_0', 'grp_1', 'grp_2']
const KEYS = ['key_0', 'key_1']

const cedar = loadCedar()
const all: Record<string, string> = {
  ...Object.fromEntries(builtinPolicies.map((p) => [p.id, p.cedar])),
  ...EXTRA,
}
const json = new Map<string, PolicyJson>()
for (const [id, text] of Object.entries(all)) {
  const answer = cedar.policyToJson(text)
  if (answer.type === 'failure') throw new Error(`${id}: ${answer.errors[0]?.message}`)
  json.set(id, answer.json as unknown as PolicyJson)
}
const plan = planFastPath(json, schemaJson, schemaProductActions, (policy) => {
  const answer = cedar.policyToText(policy as never)
  if (answer.type === 'failure') throw new Error(answer.errors[0]?.message)
  return answer.text
})
const preparse = (id: string, policies: Record<string, string>) => {
  const answer = cedar.preparsePolicySet(id, { staticPolicies: policies })
  if (answer.type === 'failure') throw new Error(answer.errors[0]?.message)
}
preparse('all', all)
const schemaAnswer = cedar.preparseSchema('schema', schemaJson as never)
if (schemaAnswer.type === 'failure') throw new Error(schemaAnswer.errors[0]?.message)
for (const [key, pair] of Object.entries(plan.pairs)) {
  preparse(key, Object.fromEntries(pair.policies.map((id) => [id, plan.unscoped[id] ?? all[id]!])))
}
const actions = (Object.values(schemaJson as Record<string, { actions: object }>)[0]!.actions ??
  {}) as Record<string, { memberOf?: { id: string }[] }>
const actionEntities = (action: string) =>
  actionAndGroups(actions, action).map(
    (name) =>
      ({
        uid: { type: 'Action', id: name },
        attrs: {},
        parents: (actions[name]?.memberOf ?? []).map((ref) => ({ type: 'Action', id: ref.id })),
      }) as EntityJson
  )

function organization(setup: { orgRole: number; seats: Product[]; role: number | null }[]) {
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
  facts.setGrant(ORG, { workspaceId: 'ws_1', type: 'group', id: 'grp_1' }, ['dev'])
  setup.forEach((member, i) => {
    facts.setMember(ORG, {
      id: MEMBERS[i]!,
      status: 'active',
      orgRole: ORG_ROLES[member.orgRole]!,
      groupIds: i < GROUPS.length ? [GROUPS[i]!] : [],
      seats: member.seats,
    })
    if (member.role !== null) {
      facts.setGrant(ORG, { workspaceId: WORKSPACES[i % 3]!, type: 'member', id: MEMBERS[i]! }, [
        WORKSPACE_ROLES[member.role]!,
      ])
    }
  })
  KEYS.forEach((id, i) => {
    facts.setApiKey(ORG, {
      id,
      status: 'active',
      expiresAt: null,
      workspaceId: WORKSPACES[i]!,
      memberId: null,
    })
  })
  return facts
}

function outcome(answer: ReturnType<typeof cedar.statefulIsAuthorized>) {
  if (answer.type === 'failure') return { failure: answer.errors.map((e) => e.message) }
  const { decision, diagnostics } = answer.response
  return {
    decision,
    reason: [...diagnostics.reason].sort(),
    errors: diagnostics.errors.map((e) => `${e.policyId}:${e.error.message}`).sort(),
  }
}

describe('the fast path plan beyond the built-ins', () => {
  it('plans the extra policies into the pairs their scopes allow, with what they read', () => {
    expect(plan.pairs['ApiKey/use_studio']!.policies).toContain('x-group') // `principal in`: unsettled
    expect(plan.pairs['Member/use_chat']!.actionEntities).toBe(true) // x-action reads `action`
    expect(plan.pairs['Member/read_usage']!.wholeAttributes).toContain('roles')
    expect(plan.pairs['ApiKey/view_observability']!.wholeContext).toBe(true)
    expect(plan.pairs['Member/use_code']!.literals).toContain('OrgRole::member')
  })

  it('decides every pair over the trimmed request exactly as the whole set over the full one', async () => {
    const decided = new Set<string>()
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            orgRole: fc.nat(ORG_ROLES.length - 1),
            seats: fc.subarray(['chat', 'code'] as Product[]),
            role: fc.option(fc.nat(WORKSPACE_ROLES.length - 1)),
          }),
          { minLength: MEMBERS.length, maxLength: MEMBERS.length }
        ),
        async (setup) => {
          const service = new DecisionService(organization(setup))
          const principals = [
            ...MEMBERS.map((id) => ({ type: 'Member' as const, id })),
            ...KEYS.map((id) => ({ type: 'ApiKey' as const, id })),
          ]
          for (const principal of principals) {
            for (const action of PRODUCT_ACTIONS) {
              for (const workspace of WORKSPACES) {
                for (const context of [undefined, { model: 'blocked' }, { model: 'fine' }]) {
                  const request: ProductRequest = {
                    principal,
                    action,
                    resource: { type: 'Workspace', id: workspace },
                    ...(context ? { context } : {}),
                  }
                  const built = await service.cedarRequest(ORG, request, NOW)
                  if ('errors' in built) throw new Error(JSON.stringify(built.errors))
                  const { entities, context: full } = built.request
                  const whole = cedar.statefulIsAuthorized({
                    principal,
                    action: { type: 'Action', id: action },
                    resource: request.resource,
                    context: full ?? {},
                    entities,
                    preparsedPolicySetId: 'all',
                    preparsedSchemaName: 'schema',
                    validateRequest: true,
                  })
                  const key = pairKey(principal.type, action)
                  const pair = plan.pairs[key]!
                  const trimmed = trimRequest(
                    principal,
                    request.resource,
                    entities,
                    full,
                    readsOf(pair)
                  )!
                  const fast = cedar.statefulIsAuthorized({
                    principal,
                    action: { type: 'Action', id: action },
                    resource: request.resource,
                    context: trimmed.context,
                    entities: [
                      ...(pair.actionEntities ? actionEntities(action) : []),
                      ...trimmed.entities,
                    ],
                    preparsedPolicySetId: key,
                  })
                  expect(outcome(fast), `${key} ${JSON.stringify(request)}`).toEqual(outcome(whole))
                  const result = outcome(whole)
                  for (const id of 'reason' in result ? (result.reason ?? []) : []) decided.add(id)
                }
              }
            }
          }
        }
      ),
      { numRuns: 8, seed: 12_014 }
    )
    // Not vacuous: each extra policy that can determine a decision did.
    for (const id of [
      'x-group',
      'x-action',
      'x-record',
      'x-key-workspace',
      'x-context',
      'x-org-role',
    ]) {
      expect(decided, id).toContain(id)
    }
  })
})
