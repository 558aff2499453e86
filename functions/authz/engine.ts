import { AppError } from '../lib/errors.js'
import { logger } from '../lib/logger.js'
import { loadBuiltins, parsePolicyParts, strictValidationProblems } from './builtins.js'
import type * as CedarTypes from './cedar.js'
import { type Cedar, loadCedar } from './cedar.js'
import { policyTooDeep } from './cedar-limits.js'
import { type FastPathReads, readsOf, trimRequest } from './fast-path.js'
import { actionAndGroups, type FastPathPair, pairKey, schemaActionsOf } from './fast-path-plan.js'
import { policyDirectory } from './policy-files.js'

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
/** The schema as pre-parsed (its JSON form: Cedar parses that faster than the text). */
let preparsedSchema: Parameters<Cedar['preparseSchema']>[1] = ''
/**
 * The instance generation the schema was pre-parsed in. Only the plain path (`decide`) uses
 * it, so it is pre-parsed on the first plain decision, not at cold start: the fast path
 * (product and Admin decisions on the built-in set) decides without it.
 */
let schemaLoadedIn = 0

/** Counts rebuilds since start (tests and logs read it). */
export let engineRebuilds = 0

/** Counts decisions made by the fast path, by `<principal type>/<action>` (tests read it). */
export const fastPathDecisions = new Map<string, number>()

/** The error a request gets when the engine failed under it (retried, it is served). */
export class EngineUnavailableError extends AppError {
  constructor() {
    super('unavailable', 'The policy engine failed on this request and was restarted; retry.')
  }
}

function rebuild(): void {
  const fresh = loadCedar()
  const answer = fresh.preparseSchema(SCHEMA_NAME, preparsedSchema)
  if (answer.type === 'failure') throw new Error(answer.errors[0]?.message)
  cedar = fresh
  generation++
  schemaLoadedIn = generation
  engineRebuilds++
  broken = false
}

/** Pre-parses the schema in the current instance, once per instance. */
function ensureSchema(): void {
  if (schemaLoadedIn === generation) return
  const answer = cedar.preparseSchema(SCHEMA_NAME, preparsedSchema)
  if (answer.type === 'failure') {
    throw new PolicySetRefused(answer.errors.map((e) => e.message).join('; '))
  }
  schemaLoadedIn = generation
}

/**
 * Cedar refused a policy set or the schema (a `failure` answer): a bug or bad data, not a
 * broken engine.
 */
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
  // With what the plain path uses pre-parsed in it (schema and built-in set), as decide() has it.
  ensureSchema()
  if (builtinPolicySet.loadedIn !== generation) load(builtinPolicySet)
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

/**
 * Strict validation against the schema; returns one message per problem (empty = valid). Not
 * run on the built-in policies at start: the build and the tests validate them.
 */
export function validatePolicies(schema: string, policies: PolicyInfo[]): string[] {
  return guarded((cedar) => strictValidationProblems(cedar, schema, policies))
}

/**
 * The built-in schema and policies (compiled at build time, builtins.ts), read once per process
 * (cold start). Cedar pre-parses them on first use, never per request: the whole built-in set
 * and the schema on the first plain decision, each fast-path subset on its pair's first
 * decision. A cold start that serves the fast path parses neither (docs/cold-start.md).
 */
function readBuiltins() {
  const { builtins } = loadBuiltins(policyDirectory(), () => cedar)
  // The JSON form Cedar derived from the text (builtins.ts): a third less CPU to pre-parse.
  preparsedSchema = builtins.schemaJson as Parameters<Cedar['preparseSchema']>[1]
  const set: PolicySetHandle = {
    id: BUILTIN_SET_ID,
    descriptions: new Map(builtins.policies.map((p) => [p.id, p.description])),
    policies: Object.fromEntries(builtins.policies.map((p) => [p.id, p.cedar])),
    loadedIn: 0,
  }
  return { ...builtins, set }
}

/** Workspaces (each with a member) in the entities parsed once at init (`primeEntityParsing`). */
const PRIMING_WORKSPACES = 20

const builtins = readBuiltins()
primeEntityParsing()

/**
 * Parses, once at init, entities of the shapes decisions send (an organization; workspaces with
 * role references; members with role, org role and organization parents) without a schema, as
 * the fast path parses them. The first decision would compile the wasm's entity parsing
 * functions anyway (≈ 50 ms of CPU, cold); done here, it also gives them a head start to be
 * optimized, so the first decisions of an instance are not as slow (docs/cold-start.md).
 */
function primeEntityParsing(): void {
  const organization = { type: 'Organization', id: 'org_priming' }
  const entities: unknown[] = [
    { uid: organization, attrs: { suspended: false, sells_chat_seats: true }, parents: [] },
  ]
  for (let i = 0; i < PRIMING_WORKSPACES; i++) {
    const role = (name: string) => ({ type: 'WorkspaceRole', id: `ws_priming_${i}/${name}` })
    entities.push(
      {
        uid: { type: 'Workspace', id: `ws_priming_${i}` },
        attrs: {
          archived: false,
          is_default: i === 0,
          suspended: false,
          organization: { __entity: organization },
          roles: { user: { __entity: role('user') }, dev: { __entity: role('dev') } },
        },
        parents: [organization],
      },
      {
        uid: { type: 'Member', id: `mem_priming_${i}` },
        attrs: { status: 'active', seats: ['chat'], organization: { __entity: organization } },
        parents: [role('user'), { type: 'OrgRole', id: 'member' }, organization],
      }
    )
  }
  const answer = guarded((cedar) =>
    cedar.checkParseEntities({ entities: entities as EntityJson[] })
  )
  if (answer.type === 'failure') throw new Error(answer.errors[0]?.message)
}

export const schemaText = builtins.schema
/** The schema in Cedar's JSON format (for clients that edit policies). */
export const schemaJson: unknown = builtins.schemaJson
/** The schema's actions (their groups and what they apply to), for the fast path's pairs. */
const builtinActions = schemaActionsOf(builtins.schemaJson)
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
    ensureSchema()
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
 * tests, fast-path.test.ts, hold it to that), else by `decide`. The request's entities were
 * built by the server from its own facts, so Cedar need not check them against the schema;
 * without the schema it parses them much faster (most of a decision's cost). Per (principal
 * type, action), from the plan computed with the built-ins (at build time, fast-path-plan.ts):
 * - only the built-in policies whose scope can match the pair, pre-parsed as their own set on
 *   first use, each without its action scope where the schema's actions settle it (so Cedar
 *   needs no action entities);
 * - entities and context trimmed to what those policies can read (fast-path.ts).
 * It applies to the built-in set and a context of `now` (set by the server) and a string
 * `model`; anything else (custom policies, `source_ip`, which the schema turns into an IP
 * address, unknown fields, which the schema refuses) goes the plain way.
 */
export function decideProduct(
  request: AuthorizationRequest,
  set: PolicySetHandle = builtinPolicySet
): Decision {
  return decideFast(request, set)
}

/**
 * An Admin route's decision, by the fast path as `decideProduct` (Admin requests carry no
 * context) for the built-in set, else by `decide`. An organization's custom policies can only
 * apply to product actions (`checkCustomPolicy`), but its set still goes the plain way.
 */
export function decideAdmin(
  request: AuthorizationRequest,
  set: PolicySetHandle = builtinPolicySet
): Decision {
  return decideFast(request, set)
}

function decideFast(request: AuthorizationRequest, set: PolicySetHandle): Decision {
  if (set !== builtinPolicySet || !fastContext(request.context)) return decide(request, set)
  const pair = fastPair(request.principal.type, request.action)
  // A resource type the action does not apply to: the plain path's request validation refuses it.
  if (!pair?.resourceTypes.has(request.resource.type)) return decide(request, set)
  const trimmed = trimRequest(
    request.principal,
    request.resource,
    request.entities,
    request.context,
    pair.reads
  )
  if (!trimmed) return decide(request, set)
  fastPathDecisions.set(pair.key, (fastPathDecisions.get(pair.key) ?? 0) + 1)
  let answer: CedarTypes.AuthorizationAnswer
  try {
    if (broken) rebuild()
    if (pair.set.loadedIn !== generation) load(pair.set)
    answer = cedar.statefulIsAuthorized({
      principal: request.principal,
      action: { type: 'Action', id: request.action },
      resource: request.resource,
      context: trimmed.context,
      entities: pair.actionEntities.length
        ? [...pair.actionEntities, ...trimmed.entities]
        : trimmed.entities,
      preparsedPolicySetId: pair.set.id,
    })
  } catch (error) {
    throw engineFailed(error)
  }
  return decisionOf(answer, pair.set)
}

function fastContext(context: Record<string, CedarValue> | undefined): boolean {
  if (!context) return true
  for (const key in context) {
    if (key === 'now') continue
    if (key !== 'model' || typeof context[key] !== 'string') return false
  }
  return true
}

interface FastPair {
  key: string
  /** The pair's policy subset (pre-parsed on first use, again after a rebuild). */
  set: PolicySetHandle
  /** The action and its groups, when a policy of the subset needs them. */
  actionEntities: EntityJson[]
  /** The resource types the schema says the action applies to. */
  resourceTypes: ReadonlySet<string>
  reads: FastPathReads
}

/** By `<principal type>/<action>`; null = not a product request the plan knows. */
const fastPairs = new Map<string, FastPair | null>()

function fastPair(principalType: string, action: string): FastPair | null {
  const key = pairKey(principalType, action)
  let pair = fastPairs.get(key)
  if (pair === undefined) {
    const planned = Object.hasOwn(builtins.fastPath.pairs, key)
      ? builtins.fastPath.pairs[key]!
      : undefined
    pair = planned ? fastPairOf(key, action, planned) : null
    fastPairs.set(key, pair)
  }
  return pair
}

function fastPairOf(key: string, action: string, planned: FastPathPair): FastPair {
  const { unscoped } = builtins.fastPath
  const original = builtinPolicySet.policies
  return {
    key,
    set: {
      id: `${BUILTIN_SET_ID}:${key}`,
      descriptions: builtinPolicySet.descriptions,
      policies: Object.fromEntries(
        planned.policies.map((id) => [
          id,
          Object.hasOwn(unscoped, id) ? unscoped[id]! : original[id]!,
        ])
      ),
      loadedIn: 0,
    },
    actionEntities: planned.actionEntities ? actionEntitiesOf(action) : [],
    resourceTypes: new Set(builtinActions[action]?.appliesTo?.resourceTypes ?? []),
    reads: readsOf(planned),
  }
}

/** The action and its action groups, with their parents, as the schema declares them. */
function actionEntitiesOf(action: string): EntityJson[] {
  return actionAndGroups(builtinActions, action).map(
    (name) =>
      ({
        uid: { type: 'Action', id: name },
        attrs: {},
        parents: (builtinActions[name]?.memberOf ?? []).map((ref) => ({
          type: 'Action',
          id: ref.id,
        })),
      }) as EntityJson
  )
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
