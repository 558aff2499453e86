/**
 * The built-in schema and policies as the engine needs them: each policy's id, description,
 * effect and text, the schema in Cedar's JSON form and its product actions. Deriving these
 * takes several hundred milliseconds of wasm (parsing every policy, converting the schema), so
 * the Lambda build computes them once (`compileBuiltinsInto`, run by infra/bundling.ts beside
 * the bundle) and a cold start only reads the result. The result carries a hash of the files it
 * was computed from: when the files beside it differ (edited, or never compiled, as in a
 * checkout) the engine derives everything from the files instead, so it can never be stale.
 * Strict validation is not repeated at run time: the build and the tests do it.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Cedar } from './cedar.js'
import {
  concreteActions,
  type FastPathPlan,
  type PolicyJson,
  planFastPath,
  schemaActionsOf,
} from './fast-path-plan.js'
import { type PolicyFiles, readPolicyFiles } from './policy-files.js'

export interface BuiltinPolicy {
  id: string
  description: string
  effect: 'permit' | 'forbid'
  /** The policy's Cedar text. */
  cedar: string
}

export interface Builtins {
  /** The compiled form's layout (`COMPILED_FORMAT`): a file of another layout is not used. */
  format: number
  /** sha256 of the schema and policy files these were derived from. */
  sourceHash: string
  schema: string
  policies: BuiltinPolicy[]
  /** The schema in Cedar's JSON format. */
  schemaJson: unknown
  /** The schema's concrete actions in the `product_action` group. */
  productActions: string[]
  /** The decision fast path's policy subsets and what they read (fast-path-plan.ts). */
  fastPath: FastPathPlan
}

/** Raised whenever `Builtins` changes shape, so a file compiled by an older build is derived anew. */
export const COMPILED_FORMAT = 3

/** The compiled form's file name, in the policy directory beside the files it came from. */
export const COMPILED_BUILTINS_FILE = 'builtins.compiled.json'

/** Hash of every input: the schema and each `.cedar` file, by name. */
export function sourceHashOf(files: PolicyFiles): string {
  const hash = createHash('sha256').update('schema\0').update(files.schema)
  for (const [name, text] of Object.entries(files.policyFiles).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0
  )) {
    hash.update(`\0${name}\0`).update(text)
  }
  return hash.digest('hex')
}

/**
 * Splits a policy file into policies keyed by their `@id` annotation (stable ids in decisions)
 * and reads each one's `@description`.
 */
export function parsePolicyParts(cedar: Cedar, text: string, source: string): BuiltinPolicy[] {
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

/** The names of the schema's concrete actions that are (transitively) in `group`. */
function actionsIn(schemaJson: unknown, group: string): string[] {
  const actions = schemaActionsOf(schemaJson)
  const parentsOf = (name: string) => (actions[name]?.memberOf ?? []).map((ref) => ref.id)
  const inGroup = (name: string, seen = new Set<string>()): boolean =>
    parentsOf(name).some(
      (parent) => parent === group || (!seen.has(parent) && inGroup(parent, seen.add(parent)))
    )
  return concreteActions(actions).filter((name) => inGroup(name))
}

/** Derives everything from the files with Cedar (the slow path: build time, or a checkout). */
export function deriveBuiltins(cedar: Cedar, files: PolicyFiles): Builtins {
  const policies = Object.entries(files.policyFiles).flatMap(([name, text]) =>
    parsePolicyParts(cedar, text, name)
  )
  const ids = new Set<string>()
  for (const policy of policies) {
    if (ids.has(policy.id)) throw new Error(`duplicate policy id ${policy.id}`)
    ids.add(policy.id)
  }
  const json = cedar.schemaToJson(files.schema)
  if (json.type === 'failure') throw new Error(json.errors[0]?.message)
  const productActions = actionsIn(json.json, 'product_action')
  return {
    format: COMPILED_FORMAT,
    sourceHash: sourceHashOf(files),
    schema: files.schema,
    policies,
    schemaJson: json.json,
    productActions,
    // Every concrete action: product decisions and Admin ones take the fast path alike.
    fastPath: fastPathOf(cedar, policies, json.json, concreteActions(schemaActionsOf(json.json))),
  }
}

function fastPathOf(
  cedar: Cedar,
  policies: readonly BuiltinPolicy[],
  schemaJson: unknown,
  actions: readonly string[]
): FastPathPlan {
  const json = new Map<string, PolicyJson>()
  for (const policy of policies) {
    const answer = cedar.policyToJson(policy.cedar)
    if (answer.type === 'failure') throw new Error(`${policy.id}: ${answer.errors[0]?.message}`)
    json.set(policy.id, answer.json as unknown as PolicyJson)
  }
  return planFastPath(json, schemaJson, actions, (policy) => {
    const answer = cedar.policyToText(policy as never)
    if (answer.type === 'failure') throw new Error(answer.errors[0]?.message)
    return answer.text
  })
}

/** Strict validation against the schema; one message per problem (empty = valid). */
export function strictValidationProblems(
  cedar: Cedar,
  schema: string,
  policies: readonly BuiltinPolicy[]
): string[] {
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
 * The built-ins for the policy directory `dir`: its compiled form when that was computed from
 * exactly the files there, else derived from them (`derived` says which, for tests and logs).
 */
export function loadBuiltins(
  dir: string,
  cedar: () => Cedar
): { builtins: Builtins; derived: boolean } {
  const files = readPolicyFiles(dir)
  const compiledFile = join(dir, COMPILED_BUILTINS_FILE)
  if (existsSync(compiledFile)) {
    const compiled = JSON.parse(readFileSync(compiledFile, 'utf8')) as Builtins
    if (
      compiled.format === COMPILED_FORMAT &&
      compiled.sourceHash === sourceHashOf(files) &&
      compiled.schema === files.schema
    ) {
      return { builtins: compiled, derived: false }
    }
  }
  return { builtins: deriveBuiltins(cedar(), files), derived: true }
}

/**
 * Build step: derives the built-ins of `dir` with Cedar, refuses them unless they validate
 * strictly, and writes the compiled form beside them. Returns the file written.
 */
export function compileBuiltinsInto(dir: string, cedar: Cedar): string {
  const builtins = deriveBuiltins(cedar, readPolicyFiles(dir))
  const problems = strictValidationProblems(cedar, builtins.schema, builtins.policies)
  if (problems.length > 0) {
    throw new Error(`built-in policies do not validate:\n${problems.join('\n')}`)
  }
  const file = join(dir, COMPILED_BUILTINS_FILE)
  writeFileSync(file, `${JSON.stringify(builtins)}\n`)
  return file
}
