import type { Db } from './db.js'
import { keys } from './keys.js'

export interface OrgRevision {
  /** Bumped after every committed change that can affect a decision. */
  revision: number
  /** Bumped after every change of the organization's custom policies. */
  policy_revision: number
}

/**
 * The highest revision of each organization this process has written or read, per table
 * client. A cache built at a lower revision is stale: a change made through this process is
 * seen by its very next decision without asking the table.
 */
const known = new WeakMap<Db, Map<string, number>>()

function note(db: Db, orgId: string, revision: number): void {
  let byOrg = known.get(db.cacheIdentity)
  if (!byOrg) {
    byOrg = new Map()
    known.set(db.cacheIdentity, byOrg)
  }
  if ((byOrg.get(orgId) ?? -1) < revision) byOrg.set(orgId, revision)
}

function toRevision(item: Record<string, unknown> | undefined): OrgRevision {
  return {
    revision: (item?.revision as number | undefined) ?? 0,
    policy_revision: (item?.policy_revision as number | undefined) ?? 0,
  }
}

/**
 * Organization revisions: `ORG#o` / `REV`, two counters changed only with ADD (so concurrent
 * bumps never lose one). Absent = 0.
 */
export const revisions = {
  /** ADD 1 to the revision (and the policy revision); returns the new values. */
  async bump(db: Db, orgId: string, options: { policies?: boolean } = {}): Promise<OrgRevision> {
    const item = await db.update(
      keys.revision(orgId),
      {
        expression: options.policies
          ? 'ADD revision :one, policy_revision :one'
          : 'ADD revision :one',
        values: { ':one': 1 },
      },
      undefined,
      true
    )
    const current = toRevision(item)
    note(db, orgId, current.revision)
    return current
  },

  /** The stored revision (one strongly consistent GetItem). */
  async read(db: Db, orgId: string): Promise<OrgRevision> {
    const current = toRevision(await db.get(keys.revision(orgId)))
    note(db, orgId, current.revision)
    return current
  },

  /** The highest revision of the organization this process has seen, if any. */
  latestKnown(db: Db, orgId: string): number | undefined {
    return known.get(db.cacheIdentity)?.get(orgId)
  },
}
