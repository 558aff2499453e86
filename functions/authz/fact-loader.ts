import type { WorkspaceRole } from '../model/index.js'
import {
  type ApiKeyFacts,
  type DecisionFacts,
  type FactsRequest,
  type GrantRef,
  type GroupFacts,
  grantKey,
  type MemberFacts,
  type OrgFacts,
  type OrgRevision,
  type WorkspaceFacts,
} from './facts.js'

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
  /** Decisions kept for exact repeats at the same revision, all organizations together. */
  maxCachedDecisions: number
  /** Monotonic milliseconds (tests replace it). */
  now: () => number
}

export const DEFAULT_DECISION_OPTIONS: DecisionOptions = {
  revisionCheckMs: 1000,
  maxAgeMs: 60_000,
  maxOrganizations: 1000,
  maxEntriesPerKind: 10_000,
  maxCachedDecisions: 50_000,
  now: () => performance.now(),
}

/** The facts of one organization, as the request builder asks for them. */
export interface OrgFactReader {
  readonly organizationId: string
  organization(): Promise<OrgFacts | null>
  workspace(id: string): Promise<WorkspaceFacts | null>
  workspaceBudget(workspaceId: string): Promise<boolean>
  member(id: string): Promise<MemberFacts | null>
  group(id: string): Promise<GroupFacts | null>
  apiKey(id: string): Promise<ApiKeyFacts | null>
  grant(ref: GrantRef): Promise<WorkspaceRole[] | null>
}

/** An organization as the loader keeps it: its facts at one revision, and `S` built for them. */
export interface LoadedOrg<S> {
  readonly facts: OrgSnapshot
  readonly state: S
}

/** Builds what the loader keeps beside a new snapshot (the service's policy set and caches). */
export type OpenSnapshot<S> = (
  organizationId: string,
  revision: OrgRevision,
  facts: OrgSnapshot
) => Promise<S>

class Entry<S> implements LoadedOrg<S> {
  checkedAt: number
  constructor(
    readonly revision: number,
    readonly facts: OrgSnapshot,
    readonly state: S,
    readonly createdAt: number
  ) {
    this.checkedAt = createdAt
  }
}

/**
 * Per organization, a snapshot of the facts decisions read, valid for one organization
 * revision (docs/authorization.md). Every committed change bumps the revision, and a change made
 * through this process is seen by its very next load; the stored revision is re-read at most
 * every `revisionCheckMs` to see other instances' changes.
 */
export class FactLoader<S> {
  private readonly orgs = new Map<string, Entry<S>>()
  private readonly refreshing = new Map<string, { knownAtStart: number; done: Promise<Entry<S>> }>()

  constructor(
    private readonly source: DecisionFacts,
    private readonly options: DecisionOptions,
    private readonly open: OpenSnapshot<S>
  ) {}

  private usable(entry: Entry<S>, organizationId: string, now: number): boolean {
    return (
      entry.revision >= (this.source.latestKnownRevision(organizationId) ?? 0) &&
      now - entry.checkedAt < this.options.revisionCheckMs &&
      now - entry.createdAt < this.options.maxAgeMs
    )
  }

  /** The organization's current snapshot (read anew when stale). */
  async load(organizationId: string): Promise<LoadedOrg<S>> {
    const current = this.orgs.get(organizationId)
    if (current && this.usable(current, organizationId, this.options.now())) {
      this.orgs.delete(organizationId)
      this.orgs.set(organizationId, current)
      return current
    }
    // Join a refresh in flight only if it began after every change this process knows of.
    const known = this.source.latestKnownRevision(organizationId) ?? 0
    const inFlight = this.refreshing.get(organizationId)
    if (inFlight && inFlight.knownAtStart >= known) return inFlight.done
    const done = this.refresh(organizationId).finally(() => {
      if (this.refreshing.get(organizationId)?.done === done) this.refreshing.delete(organizationId)
    })
    this.refreshing.set(organizationId, { knownAtStart: known, done })
    return done
  }

  /** Reads the stored revision; keeps the snapshot if it is still current, else starts anew. */
  private async refresh(organizationId: string): Promise<Entry<S>> {
    const started = this.options.now()
    const stored = await this.source.revision(organizationId)
    const current = this.orgs.get(organizationId)
    if (
      current &&
      current.revision === stored.revision &&
      started - current.createdAt < this.options.maxAgeMs
    ) {
      current.checkedAt = Math.max(current.checkedAt, started)
      return current
    }
    const facts = new OrgSnapshot(this.source, organizationId, this.options.maxEntriesPerKind)
    const entry = new Entry(
      stored.revision,
      facts,
      await this.open(organizationId, stored, facts),
      started
    )
    const latest = this.orgs.get(organizationId)
    if (!latest || latest.revision <= entry.revision) {
      this.orgs.delete(organizationId)
      this.orgs.set(organizationId, entry)
      if (this.orgs.size > this.options.maxOrganizations) {
        this.orgs.delete(this.orgs.keys().next().value!)
      }
    }
    return entry
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

/**
 * The facts of one organization at one revision, read on demand and kept. Reads asked for in
 * the same turn of the event loop go out together as one read of the port (a batch decision's
 * first reads, a nesting level of groups), and a fact being read is never read twice.
 */
export class OrgSnapshot implements OrgFactReader {
  private org: Promise<OrgFacts | null> | undefined
  private readonly facts: { [K in FactKind]: Map<string, Promise<FactValue[K]>> } = {
    workspace: new Map(),
    workspaceBudget: new Map(),
    member: new Map(),
    group: new Map(),
    apiKey: new Map(),
    grant: new Map(),
  }
  private queued: {
    organization?: Waiting<OrgFacts | null>
    kinds: { [K in FactKind]: Map<string, Waiting<FactValue[K]>> }
    grantRefs: Map<string, GrantRef>
  } = OrgSnapshot.emptyQueue()
  private flushScheduled = false

  constructor(
    private readonly source: DecisionFacts,
    readonly organizationId: string,
    private readonly maxEntries: number
  ) {}

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

  workspace(id: string): Promise<WorkspaceFacts | null> {
    return this.fact('workspace', id)
  }

  workspaceBudget(workspaceId: string): Promise<boolean> {
    return this.fact('workspaceBudget', workspaceId)
  }

  member(id: string): Promise<MemberFacts | null> {
    return this.fact('member', id)
  }

  group(id: string): Promise<GroupFacts | null> {
    return this.fact('group', id)
  }

  apiKey(id: string): Promise<ApiKeyFacts | null> {
    return this.fact('apiKey', id)
  }

  grant(ref: GrantRef): Promise<WorkspaceRole[] | null> {
    return this.fact('grant', grantKey(ref), ref)
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

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      void this.flush()
    })
  }

  /** Reads everything queued since the last flush in one read of the port. */
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
      const facts = await this.source.read(this.organizationId, request)
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
}
