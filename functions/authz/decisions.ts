import type { CustomPolicy } from '../model/index.js'
import {
  type AdminAction,
  type AdminKeyPrincipal,
  type AdminResource,
  adminRequest,
  resourceOrganizationId,
} from './admin.js'
import {
  CONSUMPTION_ACTIONS,
  type ConsumptionGate,
  estimatedTokensOf,
  type GatedDecision,
  gateConsumption,
  serverOnlyContextError,
} from './consumption-gate.js'
import { cacheableSet, DecisionCache } from './decision-cache.js'
import {
  type AuthorizationRequest,
  builtinPolicySet,
  type Decision,
  type DecisionError,
  decide,
  decideAdmin,
  decideProduct,
  denied,
  type PolicyInfo,
  type PolicySetHandle,
  preparsePolicySet,
} from './engine.js'
import {
  DEFAULT_DECISION_OPTIONS,
  type DecisionOptions,
  FactLoader,
  type LoadedOrg,
} from './fact-loader.js'
import type { DecisionFacts, OrgFacts, OrgRevision } from './facts.js'
import { type ProductRequest, RequestBuilder } from './request-builder.js'

export type { DecisionOptions } from './fact-loader.js'
export { DEFAULT_DECISION_OPTIONS } from './fact-loader.js'
export type { ProductRequest } from './request-builder.js'

/** What the service keeps beside each organization snapshot. */
interface OrgDecisions {
  policySet: PolicySetHandle
  /** The organization has a custom permit (a built-in permit is then not the only way in). */
  customPermits: boolean
  requests: RequestBuilder
  /** The revisions the snapshot was read at (recorded with each decision). */
  revision: OrgRevision
  /** Rate-limit plans by workspace, read once per snapshot (consumption-gate.ts). */
  rateLimitPlans: Map<string, Promise<unknown>>
  /** This snapshot's prefix in the decision cache; undefined when its set is not cacheable. */
  cacheKey: string | undefined
  decided: DecisionCache
}

/** What the decision log records beside a decision, from the snapshot that made it. */
export interface DecisionLogContext {
  revision: OrgRevision
  /** Share of allowed decisions to keep (the organization's setting; denies always kept). */
  allowedSampleRate: number
}

/**
 * Decides recorded requests again over the organization's current facts, with its current
 * policy set (`before`) and with a proposed one (`after`), in the same engine (simulation).
 */
export interface Replay {
  /** The revisions of the facts the replay decides over. */
  readonly revision: OrgRevision
  /** Whether a policy id is in the current set (a recorded result naming another was not Cedar's alone). */
  isCurrentPolicy(policyId: string): boolean
  before(request: ProductRequest, now: Date): Promise<Decision>
  after(request: ProductRequest, now: Date): Promise<Decision>
  /** Returns the proposed set's slot in the engine for the next simulation. */
  close(): void
}

/** The guardrail that denies a consumption decision whose rate-limit window is used up. */
const RATE_LIMIT_POLICY_ID = 'forbid-rate-limit'

/** Slots for proposed policy sets: cedar-wasm keeps a pre-parsed set until it is overwritten. */
const freeReplaySlots: string[] = []
let replaySlots = 0

let instances = 0
let snapshots = 0

/**
 * The decision path of one process (docs/authorization.md): the facts a request names, read
 * through the `DecisionFacts` port by the fact loader (per organization and revision, batched),
 * turned into a Cedar request by the request builder, decided against the organization's
 * policy set. Facts are read by key on demand, so a decision costs the same in an organization
 * of ten members as in one of ten thousand.
 */
export class DecisionService {
  private readonly loader: FactLoader<OrgDecisions>
  private readonly policySets = new Map<
    string,
    { policyRevision: number; handle: PolicySetHandle; customPermits: boolean }
  >()
  /** Distinguishes this service's pre-parsed sets from another's in the same process. */
  private readonly instance = ++instances

  constructor(
    private readonly facts: DecisionFacts,
    options: Partial<DecisionOptions> = {},
    /** Counts consumption decisions against rate limits; none = no rate limits. */
    private readonly gate?: ConsumptionGate
  ) {
    const resolved = { ...DEFAULT_DECISION_OPTIONS, ...options }
    const decided = new DecisionCache(resolved.maxCachedDecisions)
    this.loader = new FactLoader(facts, resolved, async (organizationId, revision, snapshot) => {
      const { policySet, customPermits } = await this.policySetFor(
        organizationId,
        revision.policyRevision
      )
      return {
        policySet,
        customPermits,
        requests: new RequestBuilder(snapshot, resolved.maxEntriesPerKind),
        revision,
        rateLimitPlans: new Map(),
        cacheKey: cacheableSet(policySet) ? `${++snapshots}` : undefined,
        decided,
      }
    })
  }

  /** Whether the organization exists (as of its current snapshot). */
  async organizationExists(organizationId: string): Promise<boolean> {
    const org = await this.loader.load(organizationId)
    return (await org.facts.organization()) !== null
  }

  /** One product decision; `now` is the request time (context.now, key expiry). */
  async authorize(organizationId: string, request: ProductRequest, now: Date): Promise<Decision> {
    return decideOne(await this.loader.load(organizationId), request, now, this.gate)
  }

  /** Several product decisions of one organization, against one snapshot; results in order. */
  async authorizeMany(
    organizationId: string,
    requests: readonly ProductRequest[],
    now: Date
  ): Promise<Decision[]> {
    const org = await this.loader.load(organizationId)
    return Promise.all(requests.map((request) => decideOne(org, request, now, this.gate)))
  }

  /**
   * `authorize`, or null when there is no such organization. Whether it exists comes from the
   * same read as the request's facts (one round trip on a cold cache, not two).
   */
  async authorizeIfKnown(
    organizationId: string,
    request: ProductRequest,
    now: Date
  ): Promise<Decision | null> {
    const [decision, known] = await Promise.all([
      this.authorize(organizationId, request, now),
      this.organizationExists(organizationId),
    ])
    return known ? decision : null
  }

  /** `authorizeMany`, or null when there is no such organization (read as `authorizeIfKnown`). */
  async authorizeManyIfKnown(
    organizationId: string,
    requests: readonly ProductRequest[],
    now: Date
  ): Promise<Decision[] | null> {
    const [decisions, known] = await Promise.all([
      this.authorizeMany(organizationId, requests, now),
      this.organizationExists(organizationId),
    ])
    return known ? decisions : null
  }

  /**
   * The Cedar request `authorize` would evaluate (entities, context) and the pre-parsed policy
   * set it would use, or the errors that deny it before Cedar. For inspection and the
   * benchmark's raw baseline; `authorize` does exactly this and then calls `decide`.
   */
  async cedarRequest(
    organizationId: string,
    request: ProductRequest,
    now: Date
  ): Promise<
    { request: AuthorizationRequest; policySet: PolicySetHandle } | { errors: DecisionError[] }
  > {
    const { state } = await this.loader.load(organizationId)
    const built = await state.requests.build(request, now)
    if ('errors' in built) return built
    return { request: built.request, policySet: state.policySet }
  }

  /** The revision and sampling setting of the organization's current snapshot (no extra read when warm). */
  async logContext(organizationId: string): Promise<DecisionLogContext> {
    const org = await this.loader.load(organizationId)
    const facts = await org.facts.organization()
    return {
      revision: org.state.revision,
      allowedSampleRate: facts?.decisionLogSampleRate ?? 1,
    }
  }

  /**
   * A replay over the organization's current snapshot: `before` with its current policy set,
   * `after` with the built-in policies plus `proposedCustom` (already validated), pre-parsed
   * once for the whole replay.
   */
  async openReplay(organizationId: string, proposedCustom: readonly PolicyInfo[]): Promise<Replay> {
    const org = await this.loader.load(organizationId)
    const slot = freeReplaySlots.pop() ?? `replay:${++replaySlots}`
    let proposed: PolicySetHandle
    try {
      proposed =
        proposedCustom.length === 0 ? builtinPolicySet : preparsePolicySet(slot, proposedCustom)
    } catch (error) {
      freeReplaySlots.push(slot)
      throw error
    }
    let open = true
    return {
      revision: org.state.revision,
      // A rate-limit deny is Cedar's over a context the server added (`rate_limited`), not
      // over the request as recorded: such a record is decided again.
      isCurrentPolicy: (policyId) =>
        policyId !== RATE_LIMIT_POLICY_ID && org.state.policySet.descriptions.has(policyId),
      before: (request, now) => decideUncounted(org, request, now),
      after: (request, now) => decideUncounted(org, request, now, proposed),
      close() {
        if (open) freeReplaySlots.push(slot)
        open = false
      },
    }
  }

  /**
   * The facts of the organization's current snapshot, for enumerating candidates of a reverse
   * query (`authorizeMany` then decides them against the same snapshot).
   */
  async organizationFacts(organizationId: string): Promise<OrgFacts | null> {
    return (await this.loader.load(organizationId)).facts.organization()
  }

  /**
   * Whether the organization's current policy set has a custom permit: without one, only
   * members holding a role (`holdsAnyRole`) can be allowed, so a reverse query may enumerate
   * role holders instead of every member.
   */
  async hasCustomPermits(organizationId: string): Promise<boolean> {
    return (await this.loader.load(organizationId)).state.customPermits
  }

  /**
   * Decides candidates of a reverse query: `authorizeMany`'s verdicts (allow or deny; a deny's
   * policies and errors are not kept). When the organization has no custom permit, only the
   * built-in permits can allow, and each of them needs the principal to hold a role: a member
   * whose entities carry no role of the workspace and neither organization_admin nor
   * billing_manager is denied without calling Cedar (docs/decision-log.md). The differential
   * test proves the verdicts equal to /v1/authorize's.
   */
  async authorizeCandidates(
    organizationId: string,
    requests: readonly ProductRequest[],
    now: Date
  ): Promise<Decision[]> {
    const org = await this.loader.load(organizationId)
    return Promise.all(
      requests.map(async (request) => {
        const built = await org.state.requests.build(request, now)
        if ('errors' in built) return denied(built.errors)
        if (!org.state.customPermits && !holdsAnyRole(built.request)) return denied([])
        return decideProduct(built.request, org.state.policySet)
      })
    )
  }

  /** An Admin route's decision: same policy set and entity shapes as product decisions. */
  async authorizeAdmin(
    principal: AdminKeyPrincipal,
    action: AdminAction,
    resource: AdminResource
  ): Promise<Decision> {
    const organizationId = resourceOrganizationId(resource)
    const { facts, state } = await this.loader.load(organizationId)
    const [organization, workspaceSuspended] = await Promise.all([
      facts.organization(),
      resource.type === 'Workspace' ? facts.workspaceBudget(resource.workspace.id) : false,
    ])
    if (!organization) {
      return denied([{ code: 'unknown_resource', message: `No organization '${organizationId}'.` }])
    }
    // Everything the decision reads beyond this snapshot's facts: the key, action and resource.
    const key =
      state.cacheKey &&
      JSON.stringify([
        state.cacheKey,
        'admin',
        principal.id,
        principal.organizationId,
        principal.orgRoles,
        action,
        resource.type === 'Workspace'
          ? [
              resource.workspace.id,
              resource.workspace.organization_id,
              resource.workspace.status,
              resource.workspace.is_default,
            ]
          : resource.organizationId,
      ])
    const now = new Date(0) // admin requests carry no time
    const hit = key ? state.decided.get(key, now) : undefined
    if (hit) return hit
    const request = adminRequest(principal, action, resource, { organization, workspaceSuspended })
    const decision = decideAdmin(request, state.policySet)
    if (key) state.decided.set(key, decision, request, now)
    return decision
  }

  /**
   * The organization's policy set: the built-in one, or the built-in policies plus its custom
   * ones pre-parsed under `org:<id>` (re-parsed when its policy revision changes).
   */
  private async policySetFor(
    organizationId: string,
    policyRevision: number
  ): Promise<{ policySet: PolicySetHandle; customPermits: boolean }> {
    const of = (entry: { handle: PolicySetHandle; customPermits: boolean }) => ({
      policySet: entry.handle,
      customPermits: entry.customPermits,
    })
    const cached = this.policySets.get(organizationId)
    if (cached && cached.policyRevision >= policyRevision) return of(cached)
    if (policyRevision === 0) return { policySet: builtinPolicySet, customPermits: false }
    const stored = await this.facts.customPolicies(organizationId)
    const latest = this.policySets.get(organizationId)
    if (latest && latest.policyRevision >= policyRevision) return of(latest)
    const handle =
      stored.length === 0
        ? builtinPolicySet
        : preparsePolicySet(`org:${organizationId}#${this.instance}`, stored.map(policyInfoOf))
    const entry = {
      policyRevision,
      handle,
      customPermits: stored.some((policy) => policy.effect === 'permit'),
    }
    this.policySets.set(organizationId, entry)
    return of(entry)
  }
}

/** Decides one request against an organization's snapshot and policy set. */
async function decideOne(
  org: LoadedOrg<OrgDecisions>,
  request: ProductRequest,
  now: Date,
  gate: ConsumptionGate | undefined
): Promise<GatedDecision> {
  const refused = serverOnlyContextError(request.context) ?? estimatedTokensOf(request.context)
  if (typeof refused !== 'number') return denied([refused])
  const { state } = org
  const workspaceId = request.resource.id
  const plans = state.rateLimitPlans
  const plan = () => {
    let pending = plans.get(workspaceId)
    if (!pending && gate) {
      pending = gate.plan(org.facts.organizationId, workspaceId)
      pending.catch(() => plans.delete(workspaceId))
      plans.set(workspaceId, pending)
    }
    return pending!
  }
  // A consumption decision's rate limits are read (once per snapshot) beside its facts.
  if (gate && CONSUMPTION_ACTIONS.has(request.action)) void plan()
  // An exact repeat at this snapshot (organization revision) is answered from the cache; the
  // cache holds Cedar's verdict, before rate limits, so every allowed repeat is still counted.
  const key = state.cacheKey && productDecisionKey(state.cacheKey, request)
  let decision = key ? state.decided.get(key, now) : undefined
  let built: Awaited<ReturnType<RequestBuilder['build']>> | undefined
  if (!decision) {
    built = await state.requests.build(request, now)
    decision =
      'errors' in built ? denied(built.errors) : decideProduct(built.request, state.policySet)
    if (key) state.decided.set(key, decision, 'errors' in built ? undefined : built.request, now)
  }
  if (!gate) return decision
  const model = request.context?.model
  return gateConsumption(
    gate,
    plan,
    request.action,
    decision,
    {
      organizationId: org.facts.organizationId,
      workspaceId,
      model: typeof model === 'string' ? model : null,
      now,
      context: request.context,
    },
    async () => {
      // Only for an allowed decision, so the request was built (now or when it was cached).
      const ready = built ?? (await state.requests.build(request, now))
      if ('errors' in ready) return denied(ready.errors)
      return decide(
        { ...ready.request, context: { ...ready.request.context, rate_limited: true } },
        state.policySet
      )
    }
  )
}

/**
 * The cache key of a product request, or undefined when it has none: a context too deeply
 * nested for JSON.stringify (the route's limits stop those; the engine fails them) is simply
 * not cached.
 */
function productDecisionKey(snapshot: string, request: ProductRequest): string | undefined {
  try {
    return JSON.stringify([
      snapshot,
      request.principal.type,
      request.principal.id,
      request.action,
      request.resource.id,
      request.context ?? null,
    ])
  } catch {
    return undefined
  }
}

/**
 * A decision of the organization's snapshot with `policySet`, outside the live path: no rate
 * limits counted, no decision cache (replays and reverse queries); the same checks, request
 * builder and Cedar call (`decideProduct`) as `/v1/authorize`.
 */
async function decideUncounted(
  org: LoadedOrg<OrgDecisions>,
  request: ProductRequest,
  now: Date,
  policySet: PolicySetHandle = org.state.policySet
): Promise<Decision> {
  const refused = serverOnlyContextError(request.context) ?? estimatedTokensOf(request.context)
  if (typeof refused !== 'number') return denied([refused])
  const built = await org.state.requests.build(request, now)
  if ('errors' in built) return denied(built.errors)
  return decideProduct(built.request, policySet)
}

/** The org roles through which a built-in permit can allow a member (product-roles.cedar). */
export const PERMITTING_ORG_ROLES: ReadonlySet<string> = new Set([
  'organization_admin',
  'billing_manager',
])

/**
 * Whether the request's principal could be allowed by a built-in permit: every one of them
 * asks for `principal in resource.roles.<role>`, `principal in OrgRole::"organization_admin"`
 * or `"billing_manager"` (members), or is the API key's own (keys are always decided).
 */
function holdsAnyRole(request: AuthorizationRequest): boolean {
  if (request.principal.type !== 'Member') return true
  // Cedar's JSON allows `{type, id}` and `{__entity: {type, id}}` for a reference.
  const ref = (uid: object): { type: string; id: string } =>
    '__entity' in uid
      ? (uid.__entity as { type: string; id: string })
      : (uid as { type: string; id: string })
  const byId = new Map(
    request.entities.map((e) => {
      const uid = ref(e.uid)
      return [`${uid.type}::${uid.id}`, e]
    })
  )
  const seen = new Set<string>()
  const pending = [`${request.principal.type}::${request.principal.id}`]
  const rolePrefix = `${request.resource.id}/`
  while (pending.length > 0) {
    const entity = byId.get(pending.pop()!)
    for (const parentUid of entity?.parents ?? []) {
      const parent = ref(parentUid)
      const key = `${parent.type}::${parent.id}`
      if (seen.has(key)) continue
      seen.add(key)
      if (parent.type === 'WorkspaceRole' && parent.id.startsWith(rolePrefix)) return true
      if (parent.type === 'OrgRole' && PERMITTING_ORG_ROLES.has(parent.id)) return true
      pending.push(key)
    }
  }
  return false
}

function policyInfoOf(policy: CustomPolicy) {
  return {
    id: policy.id,
    description: policy.description,
    effect: policy.effect,
    cedar: policy.cedar,
  }
}
