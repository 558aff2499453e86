import {
  type KeyStatus,
  type MemberStatus,
  type OrgRole,
  PRODUCTS,
  type PrincipalType,
  type Product,
  type WorkspaceRole,
} from '../model/index.js'
import type { Db, Item, Key } from './db.js'
import { keys } from './keys.js'
import { budgetStateKey, isSuspended } from './usage/budgets.js'
import { organizationScope } from './usage/scope.js'

/** What a decision needs to know about an organization. */
export interface OrgFacts {
  id: string
  /** Its hard monthly spend limit is exhausted (budget state, as of the last aggregation run). */
  suspended: boolean
  /** It has purchased chat seats, so use_chat needs one. */
  sellsChatSeats: boolean
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

export function grantKey(ref: GrantRef): string {
  return `${ref.workspaceId}#${ref.type}#${ref.id}`
}

function setOf(value: unknown): string[] {
  return value instanceof Set ? [...(value as Set<string>)].sort() : []
}

/**
 * The decision read path: any mix of organization, workspace, member, group, API key and grant
 * facts in ONE BatchGetItem (chunks of 100 keys, 4 at a time), strongly consistent. Every item
 * is addressed by key, so the cost depends on what a request needs, never on how many members,
 * workspaces or grants the organization has. Members not `ready` and groups not `active` are
 * reported absent: a half-finished creation or removal grants nothing.
 */
export async function readDecisionFacts(
  db: Db,
  orgId: string,
  request: FactsRequest
): Promise<Facts> {
  const wanted: Key[] = []
  if (request.organization) {
    wanted.push(
      keys.organization(orgId),
      budgetStateKey(organizationScope(orgId)),
      keys.seatPool(orgId, 'chat')
    )
  }
  for (const id of request.workspaces ?? []) wanted.push(keys.workspace(orgId, id))
  for (const id of request.workspaceBudgets ?? []) {
    wanted.push(budgetStateKey({ organization_id: orgId, workspace_id: id }))
  }
  for (const id of request.members ?? []) {
    wanted.push(keys.member(orgId, id), ...PRODUCTS.map((p) => keys.seat(orgId, p, id)))
  }
  for (const id of request.groups ?? []) wanted.push(keys.group(orgId, id))
  for (const id of request.apiKeys ?? []) wanted.push(keys.apiKey(orgId, id))
  for (const ref of request.grants ?? []) {
    wanted.push(keys.grant(orgId, ref.workspaceId, ref.type, ref.id))
  }
  const unique = [...new Map(wanted.map((key) => [key.SK, key])).values()]
  const items = unique.length > 0 ? await db.batchGet(unique, { concurrency: 4 }) : []
  const bySk = new Map<string, Item>(items.map((item) => [item.SK as string, item]))
  const at = (key: Key) => bySk.get(key.SK)

  const facts: Facts = {
    workspaces: new Map(),
    workspaceBudgets: new Map(),
    members: new Map(),
    groups: new Map(),
    apiKeys: new Map(),
    grants: new Map(),
  }
  if (request.organization) {
    const org = at(keys.organization(orgId))
    facts.organization = org
      ? {
          id: orgId,
          suspended: isSuspended(at(budgetStateKey(organizationScope(orgId)))),
          sellsChatSeats: ((at(keys.seatPool(orgId, 'chat'))?.purchased as number) ?? 0) > 0,
        }
      : null
  }
  for (const id of request.workspaces ?? []) {
    const item = at(keys.workspace(orgId, id))
    facts.workspaces.set(
      id,
      item
        ? { id, archived: item.status === 'archived', isDefault: item.is_default === true }
        : null
    )
  }
  for (const id of request.workspaceBudgets ?? []) {
    const state = at(budgetStateKey({ organization_id: orgId, workspace_id: id }))
    facts.workspaceBudgets.set(id, isSuspended(state))
  }
  for (const id of request.members ?? []) {
    const item = at(keys.member(orgId, id))
    facts.members.set(
      id,
      item?.state === 'ready'
        ? {
            id,
            status: item.status as MemberStatus,
            orgRole: item.org_role as OrgRole,
            groupIds: setOf(item.group_ids),
            seats: PRODUCTS.filter((product) => at(keys.seat(orgId, product, id)) !== undefined),
          }
        : null
    )
  }
  for (const id of request.groups ?? []) {
    const item = at(keys.group(orgId, id))
    facts.groups.set(
      id,
      item?.state === 'active'
        ? {
            id,
            orgRole: (item.org_role as OrgRole | null) ?? null,
            parentIds: setOf(item.parent_ids),
          }
        : null
    )
  }
  for (const id of request.apiKeys ?? []) {
    const item = at(keys.apiKey(orgId, id))
    facts.apiKeys.set(
      id,
      item
        ? {
            id,
            status: item.status as KeyStatus,
            expiresAt: (item.expires_at as string | null) ?? null,
            workspaceId: item.workspace_id as string,
            memberId: (item.member_id as string | null) ?? null,
          }
        : null
    )
  }
  for (const ref of request.grants ?? []) {
    const item = at(keys.grant(orgId, ref.workspaceId, ref.type, ref.id))
    facts.grants.set(grantKey(ref), item ? (item.roles as WorkspaceRole[]) : null)
  }
  return facts
}
