import type { CustomPolicy } from '../model/index.js'
import {
  type AdminAction,
  type AdminKeyPrincipal,
  type AdminResource,
  adminRequest,
  resourceOrganizationId,
} from './admin.js'
import {
  type AuthorizationRequest,
  builtinPolicySet,
  type Decision,
  type DecisionError,
  decide,
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
  requests: RequestBuilder
  /** The revisions the snapshot was read at (recorded with each decision). */
  revision: OrgRevision
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

/** Slots for proposed policy sets: cedar-wasm keeps a pre-parsed set until it is overwritten. */
const freeReplaySlots: string[] = []
let replaySlots = 0

let instances = 0

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
    options: Partial<DecisionOptions> = {}
  ) {
    const resolved = { ...DEFAULT_DECISION_OPTIONS, ...options }
    this.loader = new FactLoader(facts, resolved, async (organizationId, revision, snapshot) => ({
      policySet: await this.policySetFor(organizationId, revision.policyRevision),
      requests: new RequestBuilder(snapshot, resolved.maxEntriesPerKind),
      revision,
    }))
  }

  /** Whether the organization exists (as of its current snapshot). */
  async organizationExists(organizationId: string): Promise<boolean> {
    const org = await this.loader.load(organizationId)
    return (await org.facts.organization()) !== null
  }

  /** One product decision; `now` is the request time (context.now, key expiry). */
  async authorize(organizationId: string, request: ProductRequest, now: Date): Promise<Decision> {
    return decideOne(await this.loader.load(organizationId), request, now)
  }

  /** Several product decisions of one organization, against one snapshot; results in order. */
  async authorizeMany(
    organizationId: string,
    requests: readonly ProductRequest[],
    now: Date
  ): Promise<Decision[]> {
    const org = await this.loader.load(organizationId)
    return Promise.all(requests.map((request) => decideOne(org, request, now)))
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
      isCurrentPolicy: (policyId) => org.state.policySet.descriptions.has(policyId),
      before: (request, now) => decideOne(org, request, now),
      after: (request, now) => decideOne(org, request, now, proposed),
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
    return decide(
      adminRequest(principal, action, resource, { organization, workspaceSuspended }),
      state.policySet
    )
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
  policySet: PolicySetHandle = org.state.policySet
): Promise<Decision> {
  const built = await org.state.requests.build(request, now)
  if ('errors' in built) return denied(built.errors)
  return decide(built.request, policySet)
}

function policyInfoOf(policy: CustomPolicy) {
  return {
    id: policy.id,
    description: policy.description,
    effect: policy.effect,
    cedar: policy.cedar,
  }
}
