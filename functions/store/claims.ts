import { ConditionFailedError, type Db } from './db.js'
import { keys } from './keys.js'

/** Who holds a unique value, since when. */
export interface UniqueClaim {
  owner_id: string
  claimed_at: string
}

/**
 * Values unique per organization without transactions (`ORG#o` / `UNIQ#<kind>#<value>`): the
 * record that uses a value first claims it with a conditional put, then writes itself. A claim
 * whose owner never got written (a crash between the two writes) is recognised by the domain
 * and taken over with a conditional write naming the stale claim, so exactly one taker wins.
 */
export const uniqueClaims = {
  async get(db: Db, orgId: string, kind: string, value: string): Promise<UniqueClaim | undefined> {
    const item = await db.get(keys.uniqueClaim(orgId, kind, value))
    return item
      ? { owner_id: item.owner_id as string, claimed_at: item.claimed_at as string }
      : undefined
  },

  /** Claims a free value; returns the existing claim when the value is taken. */
  async claim(
    db: Db,
    orgId: string,
    kind: string,
    value: string,
    ownerId: string,
    now: Date
  ): Promise<UniqueClaim | undefined> {
    for (;;) {
      try {
        await db.create({
          ...keys.uniqueClaim(orgId, kind, value),
          owner_id: ownerId,
          claimed_at: now.toISOString(),
        })
        return undefined
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error
      }
      const holder = await uniqueClaims.get(db, orgId, kind, value)
      // Released between our write and our read: try again.
      if (holder) return holder
    }
  },

  /** Replaces a stale claim, only if it is still exactly the one judged stale. */
  async takeOver(
    db: Db,
    orgId: string,
    kind: string,
    value: string,
    stale: UniqueClaim,
    ownerId: string,
    now: Date
  ): Promise<boolean> {
    try {
      await db.put(
        {
          ...keys.uniqueClaim(orgId, kind, value),
          owner_id: ownerId,
          claimed_at: now.toISOString(),
        },
        {
          expression: 'owner_id = :owner AND claimed_at = :at',
          values: { ':owner': stale.owner_id, ':at': stale.claimed_at },
        }
      )
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },

  /** Frees the value if `ownerId` still holds it. */
  async release(db: Db, orgId: string, kind: string, value: string, ownerId: string) {
    try {
      await db.delete(keys.uniqueClaim(orgId, kind, value), {
        expression: 'owner_id = :owner',
        values: { ':owner': ownerId },
      })
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error
    }
  },
}
