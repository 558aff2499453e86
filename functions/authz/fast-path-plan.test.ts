import { describe, expect, it } from 'vitest'
import { loadCedar } from './cedar.js'
import {
  type CedarValue,
  cedarInstance,
  type EntityJson,
  schemaJson,
  schemaProductActions,
} from './engine.js'
import { readsOf, trimRequest } from './fast-path.js'
import { type PolicyJson, planFastPath } from './fast-path-plan.js'

/**
 * The fast path's plan must count as a match (or a read) whatever it cannot settle for certain,
 * so a policy other than today's built-ins is never left out of a subset it may decide, nor
 * the data it reads trimmed away. Built from real Cedar JSON of the policies below, under the
 * real schema. (The built-ins themselves: the differential test, fast-path.test.ts.)
 */
const cedar = loadCedar()
const PERMIT = `permit (principal is Member, action == Action::"use_chat", resource is Workspace)
  when { principal in resource.roles.dev && resource in principal.organization };`
function plan(policies: Record<string, string>) {
  const json = new Map<string, PolicyJson>()
  for (const [id, text] of Object.entries(policies)) {
    const answer = cedar.policyToJson(text)
    if (answer.type === 'failure') throw new Error(answer.errors[0]?.message)
    json.set(id, answer.json as unknown as PolicyJson)
  }
  return planFastPath(json, schemaJson, schemaProductActions, (policy) => {
    const answer = cedar.policyToText(policy as never)
    if (answer.type === 'failure') throw new Error(answer.errors[0]?.message)
    return answer.text
  })
}

describe('the fast path plan', () => {
  it('leaves a policy out only where its scope plainly names another principal type, action or resource type', () => {
    const { pairs, unscoped } = plan({
      anyone: 'permit (principal in Group::"g", action in Action::"product_action", resource);',
      members: 'forbid (principal is Member, action == Action::"use_chat", resource);',
      consumption: 'forbid (principal, action in Action::"consumption", resource is Workspace);',
      organizations: 'permit (principal, action, resource is Organization);',
      foreign: 'permit (principal, action in [Action::"use_chat", Other::Action::"x"], resource);',
    })
    expect(Object.keys(pairs).sort()).toEqual(
      schemaProductActions.flatMap((a) => [`ApiKey/${a}`, `Member/${a}`]).sort()
    )
    for (const [key, pair] of Object.entries(pairs)) {
      const [type, action] = key.split('/') as [string, string]
      const expected = ['anyone', 'foreign']
      if (type === 'Member' && action === 'use_chat') expected.push('members')
      if (['use_chat', 'use_studio', 'use_code', 'invoke_model'].includes(action)) {
        expected.push('consumption')
      }
      expect(pair.policies.sort(), key).toEqual(expected.sort())
      // The scope naming an action outside the schema is kept, with the action entities.
      expect(pair.actionEntities, key).toBe(true)
      expect(pair.literals, key).toContain('Group::g')
    }
    expect(Object.keys(unscoped).sort()).toEqual([
      'anyone',
      'consumption',
      'members',
      'organizations',
    ])
    expect(unscoped.members).toMatch(
      /^forbid\s*\(\s*principal is Member,\s*action,\s*resource\s*\)/
    )
  })

  it('records what the conditions read: names, values used whole, the action and the context', () => {
    const { pairs } = plan({
      reads: `permit (principal is Member, action == Action::"use_chat", resource is Workspace)
        when { resource.roles.dev == principal.organization && principal has seats && context.model == "m" };`,
      action: `forbid (principal is Member, action == Action::"use_code", resource)
        when { action in Action::"consumption" };`,
      context: `forbid (principal is ApiKey, action == Action::"use_code", resource)
        when { context == {} };`,
    })
    const chat = pairs['Member/use_chat']!
    expect(chat.attributes).toEqual(['dev', 'model', 'organization', 'roles', 'seats'])
    expect(chat.wholeAttributes).toEqual(['dev', 'model', 'organization'])
    expect(chat).toMatchObject({ actionEntities: false, wholeContext: false })
    expect(pairs['Member/use_code']).toMatchObject({ policies: ['action'], actionEntities: true })
    expect(pairs['ApiKey/use_code']).toMatchObject({ policies: ['context'], wholeContext: true })
  })
})

describe('trimming a request to what a pair reads', () => {
  const ref = (type: string, id: string) => ({ type, id })
  const entity = (
    uid: { type: string; id: string },
    attrs: Record<string, CedarValue>,
    parents: { type: string; id: string }[]
  ) => ({ uid, attrs, parents }) as EntityJson
  const pair = plan({ p: PERMIT }).pairs['Member/use_chat']!
  const member = ref('Member', 'm')
  const workspace = ref('Workspace', 'w')
  const roles = {
    dev: { __entity: ref('WorkspaceRole', 'w/dev') },
    user: { __entity: ref('WorkspaceRole', 'w/user') },
  }
  const entities = [
    entity(ref('Organization', 'o'), { suspended: false }, []),
    entity(
      workspace,
      { archived: false, organization: { __entity: ref('Organization', 'o') }, roles },
      [ref('Organization', 'o')]
    ),
    entity(member, { status: 'active', organization: { __entity: ref('Organization', 'o') } }, [
      ref('Group', 'a'),
      ref('OrgRole', 'member'),
    ]),
    entity(ref('Group', 'a'), {}, [ref('Group', 'b')]),
    entity(ref('Group', 'b'), {}, [ref('WorkspaceRole', 'w/dev')]),
  ]

  it('hands each entity its reachable ancestors and drops what no value reaches', () => {
    const trimmed = trimRequest(member, workspace, entities, { model: 'x' }, readsOf(pair))
    expect(trimmed).toEqual({
      context: {},
      entities: [
        entity(
          workspace,
          { organization: { __entity: ref('Organization', 'o') }, roles: { dev: roles.dev } },
          [ref('Organization', 'o')]
        ),
        entity(member, { organization: { __entity: ref('Organization', 'o') } }, [
          ref('WorkspaceRole', 'w/dev'),
        ]),
      ],
    })
    // And Cedar decides the trimmed request as the whole one.
    cedarInstance().preparsePolicySet('trim-test', { staticPolicies: { p: PERMIT } })
    const ask = (es: EntityJson[]) =>
      cedarInstance().statefulIsAuthorized({
        principal: member,
        action: { type: 'Action', id: 'use_chat' },
        resource: workspace,
        context: {},
        entities: [...es, entity(ref('Action', 'use_chat'), {}, [])],
        preparsedPolicySetId: 'trim-test',
      })
    expect(ask(trimmed!.entities)).toEqual(ask(entities))
    expect(ask(entities)).toMatchObject({ response: { decision: 'allow' } })
  })

  it('keeps the tags of an entity whole, and the entities they hold reachable', () => {
    const tagged = { ...entities[0]!, tags: { owner: { __entity: ref('Group', 'b') } } }
    const trimmed = trimRequest(
      member,
      workspace,
      [tagged, ...entities.slice(1)],
      {},
      readsOf(pair)
    )
    expect(trimmed!.entities.find((e) => e.tags)).toEqual({ ...tagged, attrs: {} })
    // Group b, reached through the tag, is kept (with its ancestor the subset can ask about).
    expect(trimmed!.entities.map((e) => e.uid)).toContainEqual(ref('Group', 'b'))
  })

  it('gives up (the plain path decides) on entities Cedar would refuse: a cycle, a duplicate', () => {
    const cyclic = [...entities.slice(0, 4), entity(ref('Group', 'b'), {}, [ref('Group', 'a')])]
    expect(trimRequest(member, workspace, cyclic, {}, readsOf(pair))).toBeNull()
    expect(
      trimRequest(member, workspace, [...entities, entities[0]!], {}, readsOf(pair))
    ).toBeNull()
  })
})
