import type { Db } from './db.js'
import { keys } from './keys.js'

/** What a reverse query enumerates: an organization's members, API keys or workspaces. */
export type CandidateKind = 'member' | 'apiKey' | 'workspace'

const PREFIX: Record<CandidateKind, string> = {
  member: keys.memberPrefix,
  apiKey: keys.apiKeyPrefix,
  workspace: keys.workspacePrefix,
}

/**
 * The ids of one kind of an organization's records, in id order, after `afterId` (exclusive),
 * at most `max` (one Query; fewer when its 1 MB page fills first). `next` is the last id read,
 * or null when there are no more. Whether one is decided at all is left to the decision path,
 * which reads each candidate's facts by key (a member not ready, a revoked key: a deny).
 */
export async function candidateIds(
  db: Db,
  orgId: string,
  kind: CandidateKind,
  afterId: string | null,
  max: number
): Promise<{ ids: string[]; more: boolean }> {
  return idsPage(db, orgId, PREFIX[kind], afterId, max)
}

/** One Query of the ids under a sort-key prefix of the organization's partition, after `afterId`. */
async function idsPage(
  db: Db,
  orgId: string,
  prefix: string,
  afterId: string | null,
  max: number
): Promise<{ ids: string[]; more: boolean }> {
  const partition = keys.organization(orgId).PK
  const page = await db.query({
    partition,
    sort: { prefix },
    limit: max,
    ...(afterId ? { startKey: { PK: partition, SK: `${prefix}${afterId}` } } : {}),
  })
  return {
    ids: page.items.map((item) => (item.SK as string).slice(prefix.length)),
    more: page.lastKey !== undefined,
  }
}

/** Ids of one sort-key prefix of the organization's partition, every page (bounded sets). */
async function allIds(db: Db, orgId: string, prefix: string): Promise<string[]> {
  const items = await db.queryAll({ partition: keys.organization(orgId).PK, sort: { prefix } })
  return items.map((item) => (item.SK as string).slice(prefix.length))
}

/**
 * The members holding a role in a workspace, or an org role that reaches every workspace,
 * as far as the store's listings tell — a superset of those a built-in permit can allow there
 * (each candidate is still decided by the decision path):
 * - `granted`: member ids with their own grant in the workspace, in id order after `afterId`,
 *   at most `max` (streamed: the default workspace holds every member's grant);
 * - `others`: members of every group granted in the workspace or holding organization_admin
 *   or billing_manager, nested groups included (`parent_ids`, authoritative; membership
 *   listings are written before and removed after the member's own `group_ids`), and the
 *   members holding those org roles themselves (GSI2, eventually consistent).
 */
export const roleHolders = {
  async granted(
    db: Db,
    orgId: string,
    workspaceId: string,
    afterId: string | null,
    max: number
  ): Promise<{ ids: string[]; more: boolean }> {
    return idsPage(db, orgId, `${keys.grantPrefix(workspaceId)}member#`, afterId, max)
  },

  async others(
    db: Db,
    orgId: string,
    workspaceId: string,
    orgRoles: readonly string[]
  ): Promise<string[]> {
    const partition = keys.organization(orgId).PK
    const [grantedGroups, groupItems, ...byRole] = await Promise.all([
      allIds(db, orgId, `${keys.grantPrefix(workspaceId)}group#`),
      db.queryAll({ partition, sort: { prefix: keys.groupPrefix } }),
      ...orgRoles.map((role) =>
        db.queryAll({ index: 'GSI2', partition: keys.membersByRole(orgId, role, 'active') })
      ),
    ])
    // Groups whose roles reach the workspace, then every group nested in one of them.
    const children = new Map<string, string[]>()
    const reaching = new Set(grantedGroups)
    for (const item of groupItems) {
      const id = (item.SK as string).slice(keys.groupPrefix.length)
      if (orgRoles.includes(item.org_role as string)) reaching.add(id)
      const parents = item.parent_ids instanceof Set ? [...(item.parent_ids as Set<string>)] : []
      for (const parent of parents) children.set(parent, [...(children.get(parent) ?? []), id])
    }
    const pending = [...reaching]
    while (pending.length > 0) {
      for (const child of children.get(pending.pop()!) ?? []) {
        if (!reaching.has(child)) {
          reaching.add(child)
          pending.push(child)
        }
      }
    }
    const members = await Promise.all(
      [...reaching].map((groupId) => allIds(db, orgId, keys.groupMembershipPrefix(groupId)))
    )
    return [
      ...new Set([...members.flat(), ...byRole.flat().map((item) => item.GSI2SK as string)]),
    ].sort()
  },
}
