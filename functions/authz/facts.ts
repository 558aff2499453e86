import type {
  CustomPolicy,
  KeyStatus,
  MemberStatus,
  OrgRole,
  PrincipalType,
  Product,
  WorkspaceRole,
} from '../model/index.js'

/**
 * What decisions read, and the port they read it through. authz owns both: the store adapter
 * (`storeDecisionFacts`, functions/store/decision-facts.ts) and the in-memory one
 * (memory-facts.ts) implement `DecisionFacts`; nothing here knows how facts are stored.
 */

/** What a decision needs to know about an organization. */
export interface OrgFacts {
  id: string
  /** Its hard monthly spend limit is exhausted (budget state, as of the last aggregation run). */
  suspended: boolean
  /** It has purchased chat seats, so use_chat needs one. */
  sellsChatSeats: boolean
  /** Share of allowed decisions the decision log keeps (denies are always kept); absent = 1. */
  decisionLogSampleRate?: number
}

export interface WorkspaceFacts {
  id: string
  archived: boolean
  isDefault: boolean
}

export interface MemberFacts {
  id: string
  status: MemberStatus
  orgRole: OrgRole
  /** Direct groups (the member item's `group_ids`). */
  groupIds: string[]
  seats: Product[]
}

export interface GroupFacts {
  id: string
  orgRole: OrgRole | null
  /** The groups it is nested in (`parent_ids`, authoritative). */
  parentIds: string[]
}

export interface ApiKeyFacts {
  id: string
  status: KeyStatus
  expiresAt: string | null
  workspaceId: string
  memberId: string | null
}

export interface GrantRef {
  workspaceId: string
  type: PrincipalType
  id: string
}

/** What to read; every list may be empty. */
export interface FactsRequest {
  organization?: boolean
  workspaces?: readonly string[]
  /** Workspaces whose budget state (suspension) to read. */
  workspaceBudgets?: readonly string[]
  members?: readonly string[]
  groups?: readonly string[]
  apiKeys?: readonly string[]
  grants?: readonly GrantRef[]
}

/** What was read. `null` = absent (or, for members and groups, not in a state that grants). */
export interface Facts {
  organization?: OrgFacts | null
  workspaces: Map<string, WorkspaceFacts | null>
  workspaceBudgets: Map<string, boolean>
  members: Map<string, MemberFacts | null>
  groups: Map<string, GroupFacts | null>
  apiKeys: Map<string, ApiKeyFacts | null>
  /** By `grantKey(ref)`: the roles, or null when there is no grant. */
  grants: Map<string, WorkspaceRole[] | null>
}

/** Facts with nothing read yet: each adapter fills in what a request asked for. */
export function emptyFacts(): Facts {
  return {
    workspaces: new Map(),
    workspaceBudgets: new Map(),
    members: new Map(),
    groups: new Map(),
    apiKeys: new Map(),
    grants: new Map(),
  }
}

/** The key of a grant in `Facts.grants` (a map key, not a storage key). */
export function grantKey(ref: GrantRef): string {
  return `${ref.workspaceId}#${ref.type}#${ref.id}`
}

/** An organization's revision counters (absent = 0). */
export interface OrgRevision {
  /** Bumped after every committed change that can affect a decision. */
  revision: number
  /** Bumped after every change of the organization's custom policies. */
  policyRevision: number
}

/** The decision read port. */
export interface DecisionFacts {
  /**
   * Any mix of facts of one organization, read together (one round trip as far as the source
   * allows), strongly consistent. Members not `ready` and groups not `active` are absent.
   */
  read(organizationId: string, request: FactsRequest): Promise<Facts>
  /** The stored revision (strongly consistent); notes it as known. */
  revision(organizationId: string): Promise<OrgRevision>
  /**
   * The highest revision of the organization this process has written or read, without
   * reading: a snapshot built at a lower one is stale.
   */
  latestKnownRevision(organizationId: string): number | undefined
  /** The organization's custom policies. */
  customPolicies(organizationId: string): Promise<readonly CustomPolicy[]>
}
