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
  const partition = keys.organization(orgId).PK
  const prefix = PREFIX[kind]
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
