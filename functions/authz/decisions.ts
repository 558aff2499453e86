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
  decideProduct,
  denied,
  type PolicySetHandle,
  preparsePolicySet,
} from './engine.js'
import {
  DEFAULT_DECISION_OPTIONS,
  type DecisionOptions,
  FactLoader,
  type LoadedOrg,
} from './fact-loader.js'
import type { DecisionFacts } from './facts.js'
import { type ProductRequest, RequestBuilder } from './request-builder.js'

export type { DecisionOptions } from './fact-loader.js'
export { DEFAULT_DECISION_OPTIONS } from './fact-loader.js'
export type { ProductRequest } from './request-builder.js'

/** What the service keeps beside each organization snapshot. */
interface OrgDecisions {
  policySet: PolicySetHandle
  requests: RequestBuilder
  /** Rate-limit plans by workspace, read once per snapshot (consumption-gate.ts). */
  rateLimitPlans: Map<string, Promise<unknown>>
  /** This snapshot's prefix in the decision cache; undefined when its set is not cacheable. */
  cacheKey: string | undefined
  decided: DecisionCache
}

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
    { policyRevision: number; handle: PolicySetHandle }
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
      const policySet = await this.policySetFor(organizationId, revision.policyRevision)
      return {
        policySet,
        requests: new RequestBuilder(snapshot, resolved.maxEntriesPerKind),
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
    const decision = decide(request, state.policySet)
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
  ): Promise<PolicySetHandle> {
    const cached = this.policySets.get(organizationId)
    if (cached && cached.policyRevision >= policyRevision) return cached.handle
    if (policyRevision === 0) return builtinPolicySet
    const stored = await this.facts.customPolicies(organizationId)
    const latest = this.policySets.get(organizationId)
    if (latest && latest.policyRevision >= policyRevision) return latest.handle
    const handle =
      stored.length === 0
        ? builtinPolicySet
        : preparsePolicySet(`org:${organizationId}#${this.instance}`, stored.map(policyInfoOf))
    this.policySets.set(organizationId, { policyRevision, handle })
    return handle
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

function policyInfoOf(policy: CustomPolicy) {
  return {
    id: policy.id,
    description: policy.description,
    effect: policy.effect,
    cedar: policy.cedar,
  }
}
