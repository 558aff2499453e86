import * as cedar from '@cedar-policy/cedar-wasm/nodejs'
import { readPolicyFiles } from './policy-files.js'

export type EntityJson = cedar.EntityJson
export type CedarValue = cedar.CedarValueJson
export interface EntityRef {
  type: string
  id: string
}

export interface PolicyInfo {
  id: string
  description: string
  effect: 'permit' | 'forbid'
  /** The policy's Cedar text. */
  cedar: string
}

export interface AuthorizationRequest {
  principal: EntityRef
  action: string
  resource: EntityRef
  entities: EntityJson[]
  context?: Record<string, CedarValue>
}

export interface Decision {
  decision: 'allow' | 'deny'
  determining_policies: { policy_id: string; description: string }[]
  errors: string[]
}

const SCHEMA_NAME = 'admin-engine'
const BUILTIN_SET_ID = 'builtin'

/**
 * Splits a policy file into policies keyed by their `@id` annotation (stable ids in decisions)
 * and reads each one's `@description`.
 */
export function parsePolicies(text: string, source: string): PolicyInfo[] {
  const parts = cedar.policySetTextToParts(text)
  if (parts.type === 'failure') {
    throw new Error(`${source}: ${parts.errors.map((e) => e.message).join('; ')}`)
  }
  if (parts.policy_templates.length > 0) throw new Error(`${source}: templates are not supported`)
  return parts.policies.map((policyText) => {
    const json = cedar.policyToJson(policyText)
    if (json.type === 'failure') throw new Error(`${source}: ${json.errors[0]?.message}`)
    const annotations = json.json.annotations ?? {}
    const id = annotations.id
    if (!id) throw new Error(`${source}: every policy needs an @id annotation`)
    return {
      id,
      description: annotations.description ?? '',
      effect: json.json.effect,
      cedar: policyText.trim(),
    }
  })
}

/** Strict validation against the schema; returns one message per problem (empty = valid). */
export function validatePolicies(schema: string, policies: PolicyInfo[]): string[] {
  const answer = cedar.validate({
    schema,
    policies: { staticPolicies: Object.fromEntries(policies.map((p) => [p.id, p.cedar])) },
    validationSettings: { mode: 'strict' },
  })
  if (answer.type === 'failure') return answer.errors.map((e) => e.message)
  // `success` only means the call worked: type errors are in validationErrors.
  return answer.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`)
}

/**
 * The built-in schema and policies, loaded, validated and pre-parsed once per process (cold
 * start), never per request.
 */
function loadBuiltins() {
  const files = readPolicyFiles()
  const policies = Object.entries(files.policyFiles).flatMap(([name, text]) =>
    parsePolicies(text, name)
  )
  const ids = new Set<string>()
  for (const policy of policies) {
    if (ids.has(policy.id)) throw new Error(`duplicate policy id ${policy.id}`)
    ids.add(policy.id)
  }
  const problems = validatePolicies(files.schema, policies)
  if (problems.length > 0)
    throw new Error(`built-in policies do not validate:\n${problems.join('\n')}`)
  const schemaAnswer = cedar.preparseSchema(SCHEMA_NAME, files.schema)
  if (schemaAnswer.type === 'failure') throw new Error(schemaAnswer.errors[0]?.message)
  const setAnswer = cedar.preparsePolicySet(BUILTIN_SET_ID, {
    staticPolicies: Object.fromEntries(policies.map((p) => [p.id, p.cedar])),
  })
  if (setAnswer.type === 'failure') throw new Error(setAnswer.errors[0]?.message)
  return { schema: files.schema, policies, byId: new Map(policies.map((p) => [p.id, p])) }
}

const builtins = loadBuiltins()

export const schemaText = builtins.schema
export const builtinPolicies: readonly PolicyInfo[] = builtins.policies

/**
 * One Cedar decision against the pre-parsed schema and policy set. Never throws: a malformed
 * request or entity data is a deny with the problem in `errors`.
 */
export function decide(request: AuthorizationRequest): Decision {
  let answer: cedar.AuthorizationAnswer
  try {
    answer = cedar.statefulIsAuthorized({
      principal: request.principal,
      action: { type: 'Action', id: request.action },
      resource: request.resource,
      context: request.context ?? {},
      entities: request.entities,
      preparsedPolicySetId: BUILTIN_SET_ID,
      preparsedSchemaName: SCHEMA_NAME,
      validateRequest: true,
    })
  } catch (error) {
    return { decision: 'deny', determining_policies: [], errors: [String(error)] }
  }
  if (answer.type === 'failure') {
    return {
      decision: 'deny',
      determining_policies: [],
      errors: answer.errors.map((e) => e.message),
    }
  }
  const { decision, diagnostics } = answer.response
  return {
    decision,
    determining_policies: diagnostics.reason.map((id) => ({
      policy_id: id,
      description: builtins.byId.get(id)?.description ?? '',
    })),
    errors: diagnostics.errors.map((e) => `policy ${e.policyId}: ${e.error.message}`),
  }
}
