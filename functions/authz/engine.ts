import { AppError } from '../lib/errors.js'
import { logger } from '../lib/logger.js'
import type * as CedarTypes from './cedar.js'
import { type Cedar, loadCedar } from './cedar.js'
import { policyTooDeep } from './cedar-limits.js'
import { readPolicyFiles } from './policy-files.js'

export type EntityJson = CedarTypes.EntityJson
export type CedarValue = CedarTypes.CedarValueJson
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

export type DecisionErrorCode =
  | 'unknown_principal'
  | 'unknown_resource'
  | 'invalid_request'
  | 'policy_evaluation'

/** Why a decision could not be made as asked, or a policy that failed while evaluating. */
export interface DecisionError {
  code: DecisionErrorCode
  message: string
  /** The policy that raised the error (`policy_evaluation`). */
  policy_id?: string
}

export interface Decision {
  decision: 'allow' | 'deny'
  determining_policies: { policy_id: string; description: string }[]
  errors: DecisionError[]
}

/** A pre-parsed policy set in the wasm module, and the descriptions of its policies. */
export interface PolicySetHandle {
  id: string
  descriptions: ReadonlyMap<string, string>
  /** Its policies' Cedar text by id, to pre-parse it again in a rebuilt engine. */
  readonly policies: Readonly<Record<string, string>>
  /** The engine instance it is pre-parsed in (`generation`). */
  loadedIn: number
}

/** Where a Cedar diagnostic points in the policy text (1-based line and column). */
export interface PolicyDiagnostic {
  message: string
  help: string | null
  line: number | null
  column: number | null
  end_line: number | null
  end_column: number | null
}

const SCHEMA_NAME = 'admin-engine'
const BUILTIN_SET_ID = 'builtin'

// ----- The wasm instance ----------------------------------------------------------------
// cedar-wasm answers every problem with a `failure` value; it throws only when the wasm
// itself failed (a trap: stack overflow, out-of-bounds access, a Rust panic). The instance is
// unusable after that — every later call fails — so it is replaced by a fresh one at once and
// the request that hit it gets a 503; pre-parsed sets are loaded again on first use.

let cedar: Cedar = loadCedar()
/** Counts instances; a handle pre-parsed in an older one is pre-parsed again before use. */
let generation = 1
/** Set when a rebuild itself failed: the next call tries again before using the engine. */
let broken = false
let preparsedSchemaText = ''

/** Counts rebuilds since start (tests and logs read it). */
export let engineRebuilds = 0

/** The error a request gets when the engine failed under it (retried, it is served). */
export class EngineUnavailableError extends AppError {
  constructor() {
    super('unavailable', 'The policy engine failed on this request and was restarted; retry.')
  }
}

function rebuild(): void {
  const fresh = loadCedar()
  const answer = fresh.preparseSchema(SCHEMA_NAME, preparsedSchemaText)
  if (answer.type === 'failure') throw new Error(answer.errors[0]?.message)
  cedar = fresh
  generation++
  engineRebuilds++
  broken = false
}

/** Cedar refused a policy set (a `failure` answer): a bug or bad data, not a broken engine. */
class PolicySetRefused extends Error {}

/** After anything thrown from inside cedar-wasm: replace the instance, then fail the request. */
function engineFailed(error: unknown): Error {
  if (error instanceof EngineUnavailableError || error instanceof PolicySetRefused) return error
  broken = true
  try {
    rebuild()
    logger.error('cedar-wasm failed; engine rebuilt', { error, generation })
  } catch (rebuildError) {
    logger.error('cedar-wasm failed and could not be rebuilt', { error, rebuildError })
  }
  return new EngineUnavailableError()
}

/**
 * The cedar-wasm instance decisions use now (the benchmark's raw baseline calls it directly,
 * with the pre-parsed sets it holds). Replaced after a trap: ask again rather than keep it.
 */
export function cedarInstance(): Cedar {
  return cedar
}

/** Runs Cedar calls that may trap; a trap rebuilds the engine and becomes a 503. */
function guarded<T>(run: (engine: Cedar) => T): T {
  try {
    if (broken) rebuild()
    return run(cedar)
  } catch (error) {
    throw engineFailed(error)
  }
}

/** Pre-parses `set` in the current instance (a rebuilt instance holds none of the old sets). */
function load(set: PolicySetHandle): void {
  const answer = cedar.preparsePolicySet(set.id, { staticPolicies: set.policies })
  if (answer.type === 'failure') {
    throw new PolicySetRefused(answer.errors.map((e) => e.message).join('; '))
  }
  set.loadedIn = generation
}

/**
 * Splits a policy file into policies keyed by their `@id` annotation (stable ids in decisions)
 * and reads each one's `@description`.
 */
export function parsePolicies(text: string, source: string): PolicyInfo[] {
  return guarded((cedar) => parsePolicyParts(cedar, text, source))
}

function parsePolicyParts(cedar: Cedar, text: string, source: string): PolicyInfo[] {
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
  const answer = guarded((cedar) =>
    cedar.validate({
      schema,
      policies: { staticPolicies: Object.fromEntries(policies.map((p) => [p.id, p.cedar])) },
      validationSettings: { mode: 'strict' },
    })
  )
  if (answer.type === 'failure') return answer.errors.map((e) => e.message)
  // `success` only means the call worked: type errors are in validationErrors.
  return answer.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`)
}

/** The names of the schema's concrete actions that are (transitively) in `group`. */
function actionsIn(schema: string, group: string): string[] {
  const json = cedar.schemaToJson(schema)
  if (json.type === 'failure') throw new Error(json.errors[0]?.message)
  const actions = Object.values(json.json)[0]?.actions ?? {}
  const parentsOf = (name: string) => (actions[name]?.memberOf ?? []).map((ref) => ref.id)
  const inGroup = (name: string, seen = new Set<string>()): boolean =>
    parentsOf(name).some(
      (parent) => parent === group || (!seen.has(parent) && inGroup(parent, seen.add(parent)))
    )
  const concrete = (name: string) => (actions[name]?.appliesTo?.principalTypes.length ?? 0) > 0
  return Object.keys(actions).filter((name) => concrete(name) && inGroup(name))
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
  preparsedSchemaText = files.schema
  const set: PolicySetHandle = {
    id: BUILTIN_SET_ID,
    descriptions: new Map(policies.map((p) => [p.id, p.description])),
    policies: Object.fromEntries(policies.map((p) => [p.id, p.cedar])),
    loadedIn: 0,
  }
  load(set)
  return {
    schema: files.schema,
    policies,
    set,
    productActions: actionsIn(files.schema, 'product_action'),
  }
}

const builtins = loadBuiltins()

export const schemaText = builtins.schema
/** The schema in Cedar's JSON format (for clients that edit policies). */
export const schemaJson: unknown = (() => {
  const json = cedar.schemaToJson(builtins.schema)
  if (json.type === 'failure') throw new Error(json.errors[0]?.message)
  return json.json
})()
export const builtinPolicies: readonly PolicyInfo[] = builtins.policies
export const builtinPolicySet: PolicySetHandle = builtins.set
/** The schema's product actions (members of the `product_action` group). */
export const schemaProductActions: readonly string[] = builtins.productActions
const builtinIds = new Set(builtins.policies.map((p) => p.id))

export function isBuiltinPolicyId(id: string): boolean {
  return builtinIds.has(id)
}

/**
 * Pre-parses the built-in policies plus `custom` under `setId` (replacing what was there:
 * cedar-wasm keeps pre-parsed sets until overwritten). The custom policies were validated
 * when they were written.
 */
export function preparsePolicySet(setId: string, custom: readonly PolicyInfo[]): PolicySetHandle {
  for (const policy of custom) {
    // Stored before the limits existed: refuse the set (its decisions fail closed).
    const tooDeep = policyTooDeep(policy.cedar)
    if (tooDeep) throw new Error(`custom policy ${policy.id}: ${tooDeep}`)
  }
  const all = [...builtins.policies, ...custom]
  const set: PolicySetHandle = {
    id: setId,
    descriptions: new Map(all.map((p) => [p.id, p.description])),
    policies: Object.fromEntries(all.map((p) => [p.id, p.cedar])),
    loadedIn: 0,
  }
  guarded(() => load(set))
  return set
}

/**
 * One Cedar decision against the pre-parsed schema and a pre-parsed policy set (the built-in
 * one unless told). A malformed request or entity data is a deny with the problem in
 * `errors`; it throws only EngineUnavailableError, when the wasm failed (see `rebuild`).
 */
export function decide(
  request: AuthorizationRequest,
  set: PolicySetHandle = builtinPolicySet
): Decision {
  let answer: CedarTypes.AuthorizationAnswer
  try {
    if (broken) rebuild()
    if (set.loadedIn !== generation) load(set)
    answer = cedar.statefulIsAuthorized({
      principal: request.principal,
      action: { type: 'Action', id: request.action },
      resource: request.resource,
      context: request.context ?? {},
      entities: request.entities,
      preparsedPolicySetId: set.id,
      preparsedSchemaName: SCHEMA_NAME,
      validateRequest: true,
    })
  } catch (error) {
    throw engineFailed(error)
  }
  return decisionOf(answer, set)
}

function decisionOf(answer: CedarTypes.AuthorizationAnswer, set: PolicySetHandle): Decision {
  if (answer.type === 'failure') {
    return denied(answer.errors.map((e) => ({ code: 'invalid_request', message: e.message })))
  }
  const { decision, diagnostics } = answer.response
  return {
    decision,
    determining_policies: diagnostics.reason.map((id) => ({
      policy_id: id,
      description: set.descriptions.get(id) ?? '',
    })),
    errors: diagnostics.errors.map((e) => ({
      code: 'policy_evaluation',
      message: e.error.message,
      policy_id: e.policyId,
    })),
  }
}

/**
 * A product decision by the fast path where it decides exactly as `decide` (the differential
 * test, fast-path.test.ts, holds it to that), else by `decide`. The request's entities were
 * built by the server from its own facts, so Cedar need not check them against the schema;
 * without the schema it parses them much faster (most of a decision's cost). Cedar gets the same
 * pre-parsed built-in set, and, per (principal type, action):
 * - the action's entities (its action groups), which the schema would otherwise supply;
 * - entities and context trimmed to the attributes (and workspace roles) named by the policies
 *   whose scope can match the pair; the others are never evaluated for it.
 * Nothing is parsed or pre-parsed for this beyond what init already did. It applies to the
 * built-in set and a context of `now` (set by the server) and a string `model`; anything else
 * (custom policies, `source_ip`, which the schema turns into an IP address, unknown fields,
 * which the schema refuses) goes the plain way.
 */
export function decideProduct(
  request: AuthorizationRequest,
  set: PolicySetHandle = builtinPolicySet
): Decision {
  if (set !== builtinPolicySet || !fastContext(request.context)) return decide(request, set)
  if (request.resource.type !== 'Workspace') return decide(request, set)
  const shape = fastShape(request.principal.type, request.action)
  if (!shape) return decide(request, set)
  let answer: CedarTypes.AuthorizationAnswer
  try {
    if (broken) rebuild()
    if (set.loadedIn !== generation) load(set)
    answer = cedar.statefulIsAuthorized({
      principal: request.principal,
      action: { type: 'Action', id: request.action },
      resource: request.resource,
      context: slimmedContext(request.context, shape),
      entities: [...shape.actionEntities, ...request.entities.map((e) => slimmed(e, shape))],
      preparsedPolicySetId: set.id,
    })
  } catch (error) {
    throw engineFailed(error)
  }
  return decisionOf(answer, set)
}

function fastContext(context: Record<string, CedarValue> | undefined): boolean {
  if (!context) return true
  for (const key in context) {
    if (key === 'now') continue
    if (key !== 'model' || typeof context[key] !== 'string') return false
  }
  return true
}

interface FastShape {
  actionEntities: EntityJson[]
  /** The workspace roles the policies in scope name (`resource.roles.<role>`). */
  roles: ReadonlySet<string>
  /** The attribute names the policies in scope mention. */
  attributes: ReadonlySet<string>
}

/** By `<principal type>/<action>`; null = not a product request the fast path knows. */
const fastShapes = new Map<string, FastShape | null>()

function fastShape(principalType: string, action: string): FastShape | null {
  const key = `${principalType}/${action}`
  let shape = fastShapes.get(key)
  if (shape === undefined) {
    shape = buildFastShape(principalType, action)
    fastShapes.set(key, shape)
  }
  return shape
}

function buildFastShape(principalType: string, action: string): FastShape | null {
  if (!schemaProductActions.includes(action) || !['Member', 'ApiKey'].includes(principalType)) {
    return null
  }
  const actionEntities = actionEntitiesOf(action)
  const actionAndGroups = new Set(actionEntities.map((entity) => (entity.uid as EntityRef).id))
  const roles = new Set<string>()
  const attributes = new Set<string>()
  for (const policy of builtins.policies) {
    if (!mayApply(policy.cedar, principalType, actionAndGroups)) continue
    for (const match of policy.cedar.matchAll(/resource\.roles\.(\w+)/g)) roles.add(match[1]!)
    // Every name after a dot or `has`, or in brackets: more than the attributes read, never fewer.
    for (const match of policy.cedar.matchAll(/(?:\.|\bhas\s+)(\w+)|\["([^"]*)"\]/g)) {
      attributes.add(match[1] ?? match[2]!)
    }
  }
  return { actionEntities, roles, attributes }
}

/**
 * Whether a policy's scope can match requests of this principal type and action (one of
 * `actionAndGroups`, the action and its groups). Reads the scope from the text; whatever it
 * cannot read for certain counts as a match, so a policy is left out only when its scope
 * plainly says another principal type or action.
 */
function mayApply(text: string, principalType: string, actionAndGroups: Set<string>): boolean {
  const withoutAnnotations = text.replace(/@\w+\("(?:[^"\\]|\\.)*"\)/g, '')
  const scope =
    /^\s*(?:permit|forbid)\s*\(\s*principal(?:\s+is\s+(\w+))?(?:\s+in\s+[^,()]+)?\s*,\s*action(?:\s*(==|in)\s*(\[[^\]]*\]|Action::"[^"]*"))?\s*,/.exec(
      withoutAnnotations
    )
  if (!scope) return true
  const [, type, , target] = scope
  if (type !== undefined && type !== principalType) return false
  if (target === undefined) return true
  const named = [...target.matchAll(/Action::"([^"]*)"/g)].map((match) => match[1]!)
  // `==` names the action itself; `in` the action or a group of it: both are in actionAndGroups.
  return named.some((name) => actionAndGroups.has(name))
}

/** The action and its action groups, with their parents, as the schema declares them. */
function actionEntitiesOf(action: string): EntityJson[] {
  const actions =
    Object.values(
      schemaJson as Record<string, { actions?: Record<string, { memberOf?: { id: string }[] }> }>
    )[0]?.actions ?? {}
  const entities: EntityJson[] = []
  const seen = new Set<string>()
  const visit = (name: string) => {
    if (seen.has(name)) return
    seen.add(name)
    const parents = (actions[name]?.memberOf ?? []).map((ref) => ref.id)
    entities.push({
      uid: { type: 'Action', id: name },
      attrs: {},
      parents: parents.map((id) => ({ type: 'Action', id })),
    })
    for (const parent of parents) visit(parent)
  }
  visit(action)
  return entities
}

/** The context fields the policies in scope mention (`now` only where one reads the time). */
function slimmedContext(
  context: Record<string, CedarValue> | undefined,
  shape: FastShape
): Record<string, CedarValue> {
  const kept: Record<string, CedarValue> = {}
  for (const name in context) if (shape.attributes.has(name)) kept[name] = context[name]!
  return kept
}

/** An entity with only the attributes the policies in scope mention (and roles they name). */
function slimmed(entity: EntityJson, shape: FastShape): EntityJson {
  const json = entity as { uid: EntityRef; attrs: Record<string, CedarValue>; parents: unknown }
  const attrs: Record<string, CedarValue> = {}
  for (const name in json.attrs) {
    if (!shape.attributes.has(name)) continue
    const value = json.attrs[name]!
    if (name === 'roles' && json.uid.type === 'Workspace') {
      const all = value as Record<string, CedarValue>
      const roles: Record<string, CedarValue> = {}
      for (const role of shape.roles) if (role in all) roles[role] = all[role]!
      attrs[name] = roles
    } else attrs[name] = value
  }
  return { uid: json.uid, attrs, parents: json.parents } as EntityJson
}

export function denied(errors: DecisionError[]): Decision {
  return { decision: 'deny', determining_policies: [], errors }
}

// ----- Custom policies ------------------------------------------------------------------

export type CustomPolicyCheck =
  | { ok: true; policy: PolicyInfo; warnings: PolicyDiagnostic[] }
  | { ok: false; diagnostics: PolicyDiagnostic[] }

/**
 * Checks the Cedar text of a custom policy: exactly one static policy (no template), an `@id`
 * annotation (if any) equal to the id it is stored under, strict validation against the schema, and only product
 * actions in what it can apply to — so an organization cannot lock itself out of the Admin
 * API. Diagnostics carry Cedar's messages and where they point in `text`.
 */
export function checkCustomPolicy(
  requestedId: string | undefined,
  text: string,
  description?: string
): CustomPolicyCheck {
  const tooDeep = policyTooDeep(text)
  if (tooDeep) return { ok: false, diagnostics: [plain(tooDeep)] }
  return guarded((cedar) => checkWithCedar(cedar, requestedId, text, description))
}

function checkWithCedar(
  cedar: Cedar,
  requestedId: string | undefined,
  text: string,
  description: string | undefined
): CustomPolicyCheck {
  const fail = (...diagnostics: PolicyDiagnostic[]): CustomPolicyCheck => ({
    ok: false,
    diagnostics,
  })
  const parts = cedar.policySetTextToParts(text)
  if (parts.type === 'failure') {
    return fail(...parts.errors.map((error) => diagnosticOf(error, text)))
  }
  if (parts.policy_templates.length > 0) {
    return fail(plain('Templates (policies with ?principal or ?resource slots) are not accepted.'))
  }
  if (parts.policies.length !== 1) {
    return fail(plain(`Write exactly one policy per id; the text holds ${parts.policies.length}.`))
  }
  const json = cedar.policyToJson(text)
  if (json.type === 'failure') return fail(...json.errors.map((e) => diagnosticOf(e, text)))
  const annotations = json.json.annotations ?? {}
  // A dry run without an id takes the @id annotation, if any.
  const id = requestedId ?? annotations.id ?? 'draft'
  if (annotations.id !== undefined && annotations.id !== id) {
    return fail(plain(`The @id annotation ("${annotations.id}") must equal the policy id "${id}".`))
  }
  const validation = cedar.validate({
    schema: builtins.schema,
    policies: { staticPolicies: { [id]: text } },
    validationSettings: { mode: 'strict' },
  })
  if (validation.type === 'failure') {
    return fail(...validation.errors.map((e) => diagnosticOf(e, text)))
  }
  if (validation.validationErrors.length > 0) {
    return fail(...validation.validationErrors.map((e) => diagnosticOf(e.error, text)))
  }
  const envs = cedar.getValidRequestEnvsPolicy(text, builtins.schema)
  if (envs.type === 'failure') return fail(plain(envs.error))
  const product = new Set(builtins.productActions)
  const outside = envs.actions
    .map((action) => /^Action::"(.*)"$/.exec(action)?.[1] ?? action)
    .filter((action) => !product.has(action))
  if (outside.length > 0) {
    return fail(
      plain(
        `Custom policies may only govern product actions; this one also applies to ${outside.join(', ')}. ` +
          'Constrain the action, e.g. `action in Action::"product_action"`.'
      )
    )
  }
  return {
    ok: true,
    policy: {
      id,
      description: description ?? annotations.description ?? '',
      effect: json.json.effect,
      cedar: text,
    },
    warnings: [...validation.validationWarnings.map((w) => diagnosticOf(w.error, text))],
  }
}

function plain(message: string): PolicyDiagnostic {
  return { message, help: null, line: null, column: null, end_line: null, end_column: null }
}

/** Cedar gives byte offsets into the text; turns the first one into 1-based line and column. */
function diagnosticOf(error: CedarTypes.DetailedError, text: string): PolicyDiagnostic {
  const location = error.sourceLocations?.[0]
  if (!location) return { ...plain(error.message), help: error.help ?? null }
  const start = positionAt(text, location.start)
  const end = positionAt(text, location.end)
  return {
    message: error.message,
    help: error.help ?? null,
    line: start.line,
    column: start.column,
    end_line: end.line,
    end_column: end.column,
  }
}

function positionAt(text: string, byteOffset: number): { line: number; column: number } {
  const before = Buffer.from(text, 'utf8').subarray(0, byteOffset).toString('utf8')
  const lines = before.split('\n')
  return { line: lines.length, column: [...lines[lines.length - 1]!].length + 1 }
}
