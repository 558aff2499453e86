import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as cedar from '@cedar-policy/cedar-wasm/nodejs'
import { describe, expect, it } from 'vitest'
import { ADMIN_ACTIONS } from '../functions/authz/admin.js'
import {
  builtinPolicies,
  decide,
  type EntityJson,
  schemaProductActions,
  schemaText,
  validatePolicies,
} from '../functions/authz/engine.js'
import { policyDirectory } from '../functions/authz/policy-files.js'
import { PRODUCT_ACTIONS } from '../functions/model/index.js'

interface PolicyCase {
  name: string
  principal: { type: string; id: string }
  action: string
  resource: { type: string; id: string }
  context?: Record<string, cedar.CedarValueJson>
  decision: 'allow' | 'deny'
  determining_policies: string[]
}

interface PolicyTestFile {
  description: string
  /** The context of every case that gives none (product actions need `now`). */
  context?: Record<string, cedar.CedarValueJson>
  entities: EntityJson[]
  cases: PolicyCase[]
}

const testDir = join(policyDirectory(), 'tests')
const files = readdirSync(testDir).filter((name) => name.endsWith('.json'))

describe('built-in policies', () => {
  it('validate strictly against the schema', () => {
    expect(validatePolicies(schemaText, [...builtinPolicies])).toEqual([])
  })

  it('each have a unique id and a description', () => {
    const ids = builtinPolicies.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const policy of builtinPolicies) expect(policy.description, policy.id).not.toBe('')
  })

  it('ADMIN_ACTIONS lists exactly the schema actions that apply to admin keys', () => {
    const json = cedar.schemaToJson(schemaText)
    if (json.type !== 'success') throw new Error('schema does not parse')
    const actions = Object.values(json.json)[0]!.actions
    const adminKeyActions = Object.entries(actions)
      .filter(([, spec]) => spec.appliesTo?.principalTypes.includes('AdminKey'))
      .map(([name]) => name)
      .sort()
    expect(Object.keys(ADMIN_ACTIONS).sort()).toEqual(adminKeyActions)
  })
})

describe('product actions', () => {
  it('PRODUCT_ACTIONS lists exactly the schema actions in the product_action group', () => {
    expect([...PRODUCT_ACTIONS].sort()).toEqual([...schemaProductActions].sort())
  })

  it('the policy tests cover every role × product action and name every guardrail', () => {
    const all = files.flatMap(
      (file) => (JSON.parse(readFileSync(join(testDir, file), 'utf8')) as PolicyTestFile).cases
    )
    const guardrails = builtinPolicies.filter((p) => p.effect === 'forbid').map((p) => p.id)
    const named = new Set(all.flatMap((c) => c.determining_policies))
    for (const id of guardrails) expect(named, id).toContain(id)
    for (const role of [
      'workspace_admin',
      'workspace_contributor',
      'user',
      'dev',
      'code_user',
      'billing',
      'observability_viewer',
      'organization_admin',
      'billing_manager',
      'member',
    ]) {
      const actions = new Set(
        all.filter((c) => c.principal.id === `mem-${role}`).map((c) => c.action)
      )
      expect([...actions].sort(), role).toEqual([...PRODUCT_ACTIONS].sort())
    }
  })
})

describe.each(files)('policy tests: %s', (file) => {
  const data = JSON.parse(readFileSync(join(testDir, file), 'utf8')) as PolicyTestFile
  it.each(data.cases)('$name → $decision', (testCase) => {
    const result = decide({
      principal: testCase.principal,
      action: testCase.action,
      resource: testCase.resource,
      entities: data.entities,
      ...((testCase.context ?? data.context) ? { context: testCase.context ?? data.context } : {}),
    })
    expect(result.errors).toEqual([])
    expect(result.decision).toBe(testCase.decision)
    expect(result.determining_policies.map((p) => p.policy_id).sort()).toEqual(
      [...testCase.determining_policies].sort()
    )
  })
})
