import type { CustomPolicy, WorkspaceRole } from '../model/index.js'
import type { Db } from '../store/db.js'
import {
  type ApiKeyFacts,
  type FactsRequest,
  type GrantRef,
  type GroupFacts,
  grantKey,
  type MemberFacts,
  type OrgFacts,
  readDecisionFacts,
  type WorkspaceFacts,
} from '../store/decision-facts.js'
import { customPolicies } from '../store/policies.js'
import { revisions } from '../store/revisions.js'
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
  type CedarValue,
  type Decision,
  type DecisionError,
  decide,
  denied,
  type EntityJson,
  type EntityRef,
  type PolicySetHandle,
  preparsePolicySet,
} from './engine.js'
import {
  apiKeyEntity,
  memberEntities,
  organizationEntity,
  type ReachedGroup,
  workspaceEntity,
} from './entities.js'

/** A product decision as `/v1/authorize` asks it (already shape-checked by the route). */
export interface ProductRequest {
  principal: { type: 'Member' | 'ApiKey'; id: string }
  action: string
  resource: { type: 'Workspace'; id: string }
  /** The caller's context (`model`, `source_ip`); `now` is added by the engine. */
  context?: Record<string, unknown> | undefined
}

export interface DecisionOptions {
  /**
   * How long (ms) a cached organization is used before its stored revision is read again.
   * Changes made through this process are seen at once whatever this is; it bounds how late a
   * change made by another instance (or the aggregation job in another process) is seen.
   * 0 = read the revision before every decision.
   */
  revisionCheckMs: number
  /** The longest (ms) a cached organization is used at all, whatever its revision. */
  maxAgeMs: number
  /** Organizations kept (least recently used dropped first). */
  maxOrganizations: number
  /** Entries kept per organization and kind (members, groups, grants, entity sets, …). */
  maxEntriesPerKind: number
  /** Monotonic milliseconds (tests replace it). */
  now: () => number
}

export const DEFAULT_DECISION_OPTIONS: DecisionOptions = {
  revisionCheckMs: 1000,
  maxAgeMs: 60_000,
  maxOrganizations: 1000,
  maxEntriesPerKind: 10_000,
  now: () => performance.now(),
}

/** Entities ready for Cedar, or why there are none. */
type Prepared =
  | { principal: EntityRef; resource: EntityRef; entities: EntityJson[] }
  | { errors: DecisionError[] }

let instances = 0

/**
 * The decision path of one process (docs/authorization.md): per organization, a snapshot of
 * the store facts decisions read, valid for one organization revision. Every committed change
 * bumps the revision (`recordAudit`, the aggregation job), and a change made through this
 * process is seen by its very next decision; the stored revision is re-read at most every
 * `revisionCheckMs` to see other instances' changes. Facts are read by key on demand — the
 * members, groups, grants and workspaces one request names — so a decision costs the same in
 * an organization of ten members as in one of ten thousand.
 */
export class DecisionService {
  private readonly options: DecisionOptions
  private readonly orgs = new Map<string, OrgSnapshot>()
  private readonly refreshing = new Map<
    string,
    { knownAtStart: number; done: Promise<OrgSnapshot> }
  >()
  private readonly policySets = new Map<
    string,
    { policyRevision: number; handle: PolicySetHandle }
  >()
  /** Distinguishes this service's pre-parsed sets from another's in the same process. */
  private readonly instance = ++instances

  constructor(
    readonly db: Db,
    options: Partial<DecisionOptions> = {}
  ) {
    this.options = { ...DEFAULT_DECISION_OPTIONS, ...options }
  }

  /** Whether the organization exists (as of its current snapshot). */
  async organizationExists(organizationId: string): Promise<boolean> {
    const snapshot = await this.snapshot(organizationId)
    return (await snapshot.organization()) !== null
  }

  /** One product decision; `now` is the request time (context.now, key expiry). */
  async authorize(organizationId: string, request: ProductRequest, now: Date): Promise<Decision> {
    const snapshot = await this.snapshot(organizationId)
    return snapshot.decide(request, now)
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
    const snapshot = await this.snapshot(organizationId)
    return snapshot.cedarRequest(request, now)
  }

  /** Several product decisions of one organization, against one snapshot; results in order. */
  async authorizeMany(
    organizationId: string,
    requests: readonly ProductRequest[],
    now: Date
  ): Promise<Decision[]> {
    const snapshot = await this.snapshot(organizationId)
    return Promise.all(requests.map((request) => snapshot.decide(request, now)))
  }

  /** An Admin route's decision: same policy set and entity shapes as product decisions. */
  async authorizeAdmin(
    principal: AdminKeyPrincipal,
    action: AdminAction,
    resource: AdminResource
  ): Promise<Decision> {
    const organizationId = resourceOrganizationId(resource)
    const snapshot = await this.snapshot(organizationId)
    const [organization, workspaceSuspended] = await Promise.all([
      snapshot.organization(),
      resource.type === 'Workspace' ? snapshot.workspaceBudget(resource.workspace.id) : false,
    ])
    if (!organization) {
      return denied([{ code: 'unknown_resource', message: `No organization '${organizationId}'.` }])
    }
    return decide(
      adminRequest(principal, action, resource, { organization, workspaceSuspended }),
      snapshot.policySet
    )
  }

  private usable(snapshot: OrgSnapshot, organizationId: string, now: number): boolean {
    return (
      snapshot.revision >= (revisions.latestKnown(this.db, organizationId) ?? 0) &&
      now - snapshot.checkedAt < this.options.revisionCheckMs &&
      now - snapshot.createdAt < this.options.maxAgeMs
    )
  }

  private async snapshot(organizationId: string): Promise<OrgSnapshot> {
    const current = this.orgs.get(organizationId)
    if (current && this.usable(current, organizationId, this.options.now())) {
      this.orgs.delete(organizationId)
      this.orgs.set(organizationId, current)
      return current
    }
    // Join a refresh in flight only if it began after every change this process knows of.
    const known = revisions.latestKnown(this.db, organizationId) ?? 0
    const inFlight = this.refreshing.get(organizationId)
    if (inFlight && inFlight.knownAtStart >= known) return inFlight.done
    const done = this.refresh(organizationId).finally(() => {
      if (this.refreshing.get(organizationId)?.done === done) this.refreshing.delete(organizationId)
    })
    this.refreshing.set(organizationId, { knownAtStart: known, done })
    return done
  }

  /** Reads the stored revision; keeps the snapshot if it is still current, else starts anew. */
  private async refresh(organizationId: string): Promise<OrgSnapshot> {
    const started = this.options.now()
    const stored = await revisions.read(this.db, organizationId)
    const current = this.orgs.get(organizationId)
    if (
      current &&
      current.revision === stored.revision &&
      started - current.createdAt < this.options.maxAgeMs
    ) {
      current.checkedAt = Math.max(current.checkedAt, started)
      return current
    }
    const policySet = await this.policySetFor(organizationId, stored.policy_revision)
    const snapshot = new OrgSnapshot(
      this.db,
      organizationId,
      stored.revision,
      policySet,
      started,
      this.options.maxEntriesPerKind
    )
    const latest = this.orgs.get(organizationId)
    if (!latest || latest.revision <= snapshot.revision) {
      this.orgs.delete(organizationId)
      this.orgs.set(organizationId, snapshot)
      if (this.orgs.size > this.options.maxOrganizations) {
        this.orgs.delete(this.orgs.keys().next().value!)
      }
    }
    return snapshot
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
    const stored = await customPolicies.all(this.db, organizationId)
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

function policyInfoOf(policy: CustomPolicy) {
  return {
    id: policy.id,
    description: policy.description,
    effect: policy.effect,
    cedar: policy.cedar,
  }
}

type FactKind = 'workspace' | 'workspaceBudget' | 'member' | 'group' | 'apiKey' | 'grant'
interface FactValue {
  workspace: WorkspaceFacts | null
  workspaceBudget: boolean
  member: MemberFacts | null
  group: GroupFacts | null
  apiKey: ApiKeyFacts | null
  grant: WorkspaceRole[] | null
}

interface Waiting<T> {
  resolve: (value: T) => void
  reject: (error: unknown) => void
}

/** Groups nested deeper than this are not followed (the Admin API allows chains of 10). */
const MAX_NESTING_LEVELS = 32

/**
 * The facts of one organization at one revision, read on demand and kept. Reads asked for in
 * the same turn of the event loop go out together as one BatchGetItem (a batch decision's
 * first reads, a nesting level of groups), and a fact being read is never read twice.
 */
class OrgSnapshot {
  private org: Promise<OrgFacts | null> | undefined
  private readonly facts: { [K in FactKind]: Map<string, Promise<FactValue[K]>> } = {
    workspace: new Map(),
    workspaceBudget: new Map(),
    member: new Map(),
    group: new Map(),
    apiKey: new Map(),
    grant: new Map(),
  }
  private readonly prepared = new Map<string, Promise<Prepared>>()
  private queued: {
    organization?: Waiting<OrgFacts | null>
    kinds: { [K in FactKind]: Map<string, Waiting<FactValue[K]>> }
    grantRefs: Map<string, GrantRef>
  } = OrgSnapshot.emptyQueue()
  private flushScheduled = false
  checkedAt: number
  readonly createdAt: number

  constructor(
    private readonly db: Db,
    readonly organizationId: string,
    readonly revision: number,
    readonly policySet: PolicySetHandle,
    at: number,
    private readonly maxEntries: number
  ) {
    this.createdAt = at
    this.checkedAt = at
  }

  private static emptyQueue(): OrgSnapshot['queued'] {
    return {
      kinds: {
        workspace: new Map(),
        workspaceBudget: new Map(),
        member: new Map(),
        group: new Map(),
        apiKey: new Map(),
        grant: new Map(),
      },
      grantRefs: new Map(),
    }
  }

  organization(): Promise<OrgFacts | null> {
    if (!this.org) {
      this.org = new Promise((resolve, reject) => {
        this.queued.organization = { resolve, reject }
      })
      this.org.catch(() => {
        this.org = undefined
      })
      this.scheduleFlush()
    }
    return this.org
  }

  workspaceBudget(workspaceId: string): Promise<boolean> {
    return this.fact('workspaceBudget', workspaceId)
  }

  private fact<K extends FactKind>(kind: K, id: string, ref?: GrantRef): Promise<FactValue[K]> {
    const map = this.facts[kind] as Map<string, Promise<FactValue[K]>>
    const existing = map.get(id)
    if (existing) return existing
    const promise = new Promise<FactValue[K]>((resolve, reject) => {
      ;(this.queued.kinds[kind] as Map<string, Waiting<FactValue[K]>>).set(id, { resolve, reject })
    })
    if (ref) this.queued.grantRefs.set(id, ref)
    promise.catch(() => {
      if (map.get(id) === promise) map.delete(id)
    })
    if (map.size >= this.maxEntries) map.delete(map.keys().next().value!)
    map.set(id, promise)
    this.scheduleFlush()
    return promise
  }

  private grant(ref: GrantRef): Promise<WorkspaceRole[] | null> {
    return this.fact('grant', grantKey(ref), ref)
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      void this.flush()
    })
  }

  /** Reads everything queued since the last flush in one BatchGetItem. */
  private async flush(): Promise<void> {
    const batch = this.queued
    this.queued = OrgSnapshot.emptyQueue()
    const { kinds } = batch
    const request: FactsRequest = {
      organization: batch.organization !== undefined,
      workspaces: [...kinds.workspace.keys()],
      workspaceBudgets: [...kinds.workspaceBudget.keys()],
      members: [...kinds.member.keys()],
      groups: [...kinds.group.keys()],
      apiKeys: [...kinds.apiKey.keys()],
      grants: [...batch.grantRefs.values()],
    }
    const waiting: Waiting<never>[] = [
      ...(batch.organization ? [batch.organization as Waiting<never>] : []),
      ...Object.values(kinds).flatMap((map) => [...map.values()] as Waiting<never>[]),
    ]
    try {
      const facts = await readDecisionFacts(this.db, this.organizationId, request)
      batch.organization?.resolve(facts.organization ?? null)
      for (const [id, w] of kinds.workspace) w.resolve(facts.workspaces.get(id) ?? null)
      for (const [id, w] of kinds.workspaceBudget)
        w.resolve(facts.workspaceBudgets.get(id) ?? false)
      for (const [id, w] of kinds.member) w.resolve(facts.members.get(id) ?? null)
      for (const [id, w] of kinds.group) w.resolve(facts.groups.get(id) ?? null)
      for (const [id, w] of kinds.apiKey) w.resolve(facts.apiKeys.get(id) ?? null)
      for (const [id, w] of kinds.grant) w.resolve(facts.grants.get(id) ?? null)
    } catch (error) {
      for (const w of waiting) w.reject(error)
    }
  }

  /** Decides one request against this snapshot's facts and policy set. */
  async decide(request: ProductRequest, now: Date): Promise<Decision> {
    const cedarRequest = await this.cedarRequest(request, now)
    if ('errors' in cedarRequest) return denied(cedarRequest.errors)
    return decide(cedarRequest.request, this.policySet)
  }

  async cedarRequest(
    request: ProductRequest,
    now: Date
  ): Promise<
    { request: AuthorizationRequest; policySet: PolicySetHandle } | { errors: DecisionError[] }
  > {
    const context = contextOf(request.context, now)
    if ('error' in context) return { errors: [context.error] }
    const key = JSON.stringify([request.principal.type, request.principal.id, request.resource.id])
    let prepared = this.prepared.get(key)
    if (!prepared) {
      prepared = this.prepare(request.principal, request.resource.id)
      const pending = prepared
      pending.catch(() => {
        if (this.prepared.get(key) === pending) this.prepared.delete(key)
      })
      if (this.prepared.size >= this.maxEntries) {
        this.prepared.delete(this.prepared.keys().next().value!)
      }
      this.prepared.set(key, prepared)
    }
    const entities = await prepared
    if ('errors' in entities) return entities
    return {
      request: {
        principal: entities.principal,
        action: request.action,
        resource: entities.resource,
        entities: entities.entities,
        context: context.value,
      },
      policySet: this.policySet,
    }
  }

  /**
   * Reads what the request names and builds its entities (docs/authorization.md). A member
   * costs one read round (organization, workspace, budget, member, seats, own grant) plus one
   * per nesting level of its groups (each level's groups with their grants); an API key one
   * round, two when it belongs to a member.
   */
  private async prepare(
    principal: ProductRequest['principal'],
    workspaceId: string
  ): Promise<Prepared> {
    const orgId = this.organizationId
    const isMember = principal.type === 'Member'
    const [organization, workspace, suspended, subject, ownRoles] = await Promise.all([
      this.organization(),
      this.fact('workspace', workspaceId),
      this.workspaceBudget(workspaceId),
      isMember ? this.fact('member', principal.id) : this.fact('apiKey', principal.id),
      isMember ? this.grant({ workspaceId, type: 'member', id: principal.id }) : null,
    ])
    if (!organization) {
      return { errors: [{ code: 'unknown_resource', message: `No organization '${orgId}'.` }] }
    }
    const errors: DecisionError[] = []
    if (!subject) {
      errors.push({
        code: 'unknown_principal',
        message: `No ${isMember ? 'member' : 'API key'} '${principal.id}' in organization '${orgId}'.`,
      })
    }
    if (!workspace) {
      errors.push({
        code: 'unknown_resource',
        message: `No workspace '${workspaceId}' in organization '${orgId}'.`,
      })
    }
    if (!subject || !workspace) return { errors }

    const base = [organizationEntity(organization), workspaceEntity(orgId, workspace, suspended)]
    const principalRef = { type: principal.type, id: principal.id }
    const resource = { type: 'Workspace', id: workspaceId }
    if ('groupIds' in subject) {
      const groups = await this.groupClosure(subject.groupIds, workspaceId)
      return {
        principal: principalRef,
        resource,
        entities: [...base, ...memberEntities(orgId, workspaceId, subject, ownRoles ?? [], groups)],
      }
    }
    const owner = subject.memberId ? await this.fact('member', subject.memberId) : undefined
    const memberActive = subject.memberId ? owner?.status === 'active' : true
    return {
      principal: principalRef,
      resource,
      entities: [...base, apiKeyEntity(orgId, subject, memberActive)],
    }
  }

  /**
   * Every group containing the member, nesting included, with its roles in the workspace: one
   * read round per nesting level, each reading the level's groups and their grants together.
   */
  private async groupClosure(
    direct: readonly string[],
    workspaceId: string
  ): Promise<Map<string, ReachedGroup>> {
    const reached = new Map<string, ReachedGroup>()
    let frontier = [...new Set(direct)]
    for (let level = 0; frontier.length > 0 && level < MAX_NESTING_LEVELS; level++) {
      const [groups, roles] = await Promise.all([
        Promise.all(frontier.map((id) => this.fact('group', id))),
        Promise.all(frontier.map((id) => this.grant({ workspaceId, type: 'group', id }))),
      ])
      const next = new Set<string>()
      groups.forEach((group, index) => {
        if (!group || reached.has(group.id)) return
        reached.set(group.id, { facts: group, roles: roles[index] ?? [] })
        for (const parent of group.parentIds) if (!reached.has(parent)) next.add(parent)
      })
      frontier = [...next]
    }
    return reached
  }
}

/**
 * The Cedar context: the caller's fields (checked by Cedar against the schema, so an unknown
 * field is a deny naming it) and `now`, which only the server sets.
 */
function contextOf(
  caller: Record<string, unknown> | undefined,
  now: Date
): { value: Record<string, CedarValue> } | { error: DecisionError } {
  if (caller && 'now' in caller) {
    return {
      error: {
        code: 'invalid_request',
        message: 'context.now is set by the server; leave it out.',
      },
    }
  }
  return {
    value: {
      ...(caller as Record<string, CedarValue> | undefined),
      now: { __extn: { fn: 'datetime', arg: now.toISOString() } },
    },
  }
}
