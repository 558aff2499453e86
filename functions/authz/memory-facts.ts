import type { CustomPolicy, WorkspaceRole } from '../model/index.js'
import {
  type ApiKeyFacts,
  type DecisionFacts,
  emptyFacts,
  type Facts,
  type FactsRequest,
  type GrantRef,
  type GroupFacts,
  grantKey,
  type MemberFacts,
  type OrgFacts,
  type OrgRevision,
  type WorkspaceFacts,
} from './facts.js'

/** One organization's facts, as the in-memory adapter holds them. */
interface MemoryOrganization {
  organization: OrgFacts | null
  workspaces: Map<string, WorkspaceFacts>
  suspendedWorkspaces: Set<string>
  members: Map<string, MemberFacts>
  groups: Map<string, GroupFacts>
  apiKeys: Map<string, ApiKeyFacts>
  grants: Map<string, WorkspaceRole[]>
  policies: CustomPolicy[]
  revision: OrgRevision
}

/** How a change is made: through this process (seen at once) or by another one. */
export interface ChangeOptions {
  /** Made by another instance: this process learns of it only by reading the revision. */
  elsewhere?: boolean
}

/**
 * The decision read port over plain maps: for unit tests of the decision path (no table) and
 * tools that decide over facts they already hold. Every change bumps the organization's
 * revision as a committed store change does; `reads` records each read, so a test can check
 * what the decision path asked for and how it batched it.
 */
export class MemoryDecisionFacts implements DecisionFacts {
  private readonly orgs = new Map<string, MemoryOrganization>()
  private readonly known = new Map<string, number>()
  /** Every `read` call, in order. */
  readonly reads: { organizationId: string; request: FactsRequest }[] = []
  /** Revision reads, in order. */
  readonly revisionReads: string[] = []

  private org(organizationId: string): MemoryOrganization {
    let org = this.orgs.get(organizationId)
    if (!org) {
      org = emptyOrganization()
      this.orgs.set(organizationId, org)
    }
    return org
  }

  private changed(organizationId: string, options: ChangeOptions, policies = false): void {
    const org = this.org(organizationId)
    org.revision = {
      revision: org.revision.revision + 1,
      policyRevision: org.revision.policyRevision + (policies ? 1 : 0),
    }
    if (!options.elsewhere) this.note(organizationId, org.revision.revision)
  }

  private note(organizationId: string, revision: number): void {
    if ((this.known.get(organizationId) ?? -1) < revision) this.known.set(organizationId, revision)
  }

  /** Creates or replaces the organization (null removes it). */
  setOrganization(id: string, facts: Omit<OrgFacts, 'id'> | null, options: ChangeOptions = {}) {
    this.org(id).organization = facts ? { id, ...facts } : null
    this.changed(id, options)
  }

  setWorkspace(
    organizationId: string,
    workspace: WorkspaceFacts,
    suspended = false,
    options: ChangeOptions = {}
  ) {
    const org = this.org(organizationId)
    org.workspaces.set(workspace.id, workspace)
    if (suspended) org.suspendedWorkspaces.add(workspace.id)
    else org.suspendedWorkspaces.delete(workspace.id)
    this.changed(organizationId, options)
  }

  /** A ready member (a member not ready is absent: `remove` it). */
  setMember(organizationId: string, member: MemberFacts, options: ChangeOptions = {}) {
    this.org(organizationId).members.set(member.id, member)
    this.changed(organizationId, options)
  }

  /** An active group (a group being deleted is absent: `remove` it). */
  setGroup(organizationId: string, group: GroupFacts, options: ChangeOptions = {}) {
    this.org(organizationId).groups.set(group.id, group)
    this.changed(organizationId, options)
  }

  setApiKey(organizationId: string, key: ApiKeyFacts, options: ChangeOptions = {}) {
    this.org(organizationId).apiKeys.set(key.id, key)
    this.changed(organizationId, options)
  }

  /** The roles of a grant (none = no grant). */
  setGrant(
    organizationId: string,
    ref: GrantRef,
    roles: WorkspaceRole[],
    options: ChangeOptions = {}
  ) {
    const grants = this.org(organizationId).grants
    if (roles.length === 0) grants.delete(grantKey(ref))
    else grants.set(grantKey(ref), roles)
    this.changed(organizationId, options)
  }

  setPolicies(organizationId: string, policies: CustomPolicy[], options: ChangeOptions = {}) {
    this.org(organizationId).policies = policies
    this.changed(organizationId, options, true)
  }

  remove(
    organizationId: string,
    kind: 'workspace' | 'member' | 'group' | 'apiKey',
    id: string,
    options: ChangeOptions = {}
  ) {
    const org = this.org(organizationId)
    const maps = {
      workspace: org.workspaces,
      member: org.members,
      group: org.groups,
      apiKey: org.apiKeys,
    }
    maps[kind].delete(id)
    this.changed(organizationId, options)
  }

  async read(organizationId: string, request: FactsRequest): Promise<Facts> {
    this.reads.push({ organizationId, request })
    const org = this.orgs.get(organizationId) ?? emptyOrganization()
    const facts: Facts = emptyFacts()
    // Copies, as a store read would return: a caller cannot change what is held here.
    if (request.organization) {
      facts.organization = org.organization ? { ...org.organization } : null
    }
    for (const id of request.workspaces ?? []) {
      const workspace = org.workspaces.get(id)
      facts.workspaces.set(id, workspace ? { ...workspace } : null)
    }
    for (const id of request.workspaceBudgets ?? []) {
      facts.workspaceBudgets.set(id, org.suspendedWorkspaces.has(id))
    }
    for (const id of request.members ?? []) {
      const member = org.members.get(id)
      facts.members.set(
        id,
        member ? { ...member, groupIds: [...member.groupIds], seats: [...member.seats] } : null
      )
    }
    for (const id of request.groups ?? []) {
      const group = org.groups.get(id)
      facts.groups.set(id, group ? { ...group, parentIds: [...group.parentIds] } : null)
    }
    for (const id of request.apiKeys ?? []) {
      const key = org.apiKeys.get(id)
      facts.apiKeys.set(id, key ? { ...key } : null)
    }
    for (const ref of request.grants ?? []) {
      const roles = org.grants.get(grantKey(ref))
      facts.grants.set(grantKey(ref), roles ? [...roles] : null)
    }
    return facts
  }

  async revision(organizationId: string): Promise<OrgRevision> {
    this.revisionReads.push(organizationId)
    const revision = { ...(this.orgs.get(organizationId)?.revision ?? NO_REVISION) }
    this.note(organizationId, revision.revision)
    return revision
  }

  latestKnownRevision(organizationId: string): number | undefined {
    return this.known.get(organizationId)
  }

  async customPolicies(organizationId: string): Promise<readonly CustomPolicy[]> {
    return [...(this.orgs.get(organizationId)?.policies ?? [])]
  }
}

const NO_REVISION: OrgRevision = { revision: 0, policyRevision: 0 }

function emptyOrganization(): MemoryOrganization {
  return {
    organization: null,
    workspaces: new Map(),
    suspendedWorkspaces: new Set(),
    members: new Map(),
    groups: new Map(),
    apiKeys: new Map(),
    grants: new Map(),
    policies: [],
    revision: { ...NO_REVISION },
  }
}
