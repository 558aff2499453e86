import type { DecisionFacts, Facts, FactsRequest, OrgRevision } from '../authz/facts.js'
import { emptyFacts, grantKey } from '../authz/facts.js'
import {
  type KeyStatus,
  type MemberStatus,
  type OrgRole,
  PRODUCTS,
  type WorkspaceRole,
} from '../model/index.js'
import type { Db, Item, Key } from './db.js'
import { keys } from './keys.js'
import { customPolicies } from './policies.js'
import { revisions } from './revisions.js'
import { budgetStateKey, isSuspended } from './usage/budgets.js'
import { liveSuspensionKey } from './usage/live-spend.js'
import { organizationScope } from './usage/scope.js'

/** authz's decision read port over the table (keys, item shapes and revisions stay here). */
export function storeDecisionFacts(db: Db): DecisionFacts {
  return {
    read: (organizationId, request) => readDecisionFacts(db, organizationId, request),
    async revision(organizationId): Promise<OrgRevision> {
      const stored = await revisions.read(db, organizationId)
      return { revision: stored.revision, policyRevision: stored.policy_revision }
    },
    latestKnownRevision: (organizationId) => revisions.latestKnown(db, organizationId),
    customPolicies: (organizationId) => customPolicies.all(db, organizationId),
  }
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
      liveSuspensionKey(organizationScope(orgId)),
      keys.seatPool(orgId, 'chat')
    )
  }
  for (const id of request.workspaces ?? []) wanted.push(keys.workspace(orgId, id))
  for (const id of request.workspaceBudgets ?? []) {
    const scope = { organization_id: orgId, workspace_id: id }
    wanted.push(budgetStateKey(scope), liveSuspensionKey(scope))
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

  const facts: Facts = emptyFacts()
  if (request.organization) {
    const org = at(keys.organization(orgId))
    facts.organization = org
      ? {
          id: orgId,
          // Suspended by the last aggregation run, or by ingestion's live spend since.
          suspended:
            isSuspended(at(budgetStateKey(organizationScope(orgId)))) ||
            at(liveSuspensionKey(organizationScope(orgId))) !== undefined,
          sellsChatSeats: ((at(keys.seatPool(orgId, 'chat'))?.purchased as number) ?? 0) > 0,
          decisionLogSampleRate:
            (org.settings as { decision_log_sample_rate?: number } | undefined)
              ?.decision_log_sample_rate ?? 1,
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
    const scope = { organization_id: orgId, workspace_id: id }
    facts.workspaceBudgets.set(
      id,
      isSuspended(at(budgetStateKey(scope))) || at(liveSuspensionKey(scope)) !== undefined
    )
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
