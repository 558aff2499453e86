import { ConditionFailedError, type Db } from './db.js'
import { keys } from './keys.js'

/**
 * Leases (`ORG#o` / `LOCK#<name>`) that serialise one kind of change per organization where a
 * conditional write on a single item cannot express the invariant (it spans many items: "one
 * other admin remains", "no cycle among groups"). A holder that dies loses the lease when it
 * runs out, so a crash never blocks the organization for longer than the lease.
 */
export const locks = {
  /** Takes the lease unless someone else holds an unexpired one. */
  async acquire(
    db: Db,
    orgId: string,
    name: string,
    holder: string,
    now: Date,
    leaseMs: number
  ): Promise<boolean> {
    try {
      await db.put(
        { ...keys.lock(orgId, name), holder, lease_until: now.getTime() + leaseMs },
        {
          expression: 'attribute_not_exists(PK) OR lease_until <= :now',
          values: { ':now': now.getTime() },
        }
      )
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },

  /** Gives the lease back if it is still ours. */
  async release(db: Db, orgId: string, name: string, holder: string): Promise<void> {
    try {
      await db.delete(keys.lock(orgId, name), {
        expression: 'holder = :holder',
        values: { ':holder': holder },
      })
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error
    }
  },
}
