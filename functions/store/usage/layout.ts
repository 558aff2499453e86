import { ConditionFailedError, type Db } from '../db.js'
import { keys } from '../keys.js'

/**
 * Usage events are stored as copies (events.ts). Tables written by earlier versions hold them as
 * one raw item per (organization, event id) with the job's counted marker beside it. An event
 * that may have been ingested before the switch — its timestamp is before `legacyBefore` — is
 * also looked up there: by the duplicate check (the raw item) and by the job (the marker). As
 * ingestion rejects events older than 35 days, the old items stop mattering 35 days after the
 * switch, and they expire by their TTL.
 *
 * The switch is the first time a version with copies wrote to the table: it records that time
 * plus ten minutes (an old version accepted timestamps up to 5 minutes ahead, and its last
 * requests may still run briefly after a deploy). A table this version created itself records
 * none (`createdWithCopies`).
 */

/** Margin after the switch: events stamped before it may have been ingested the old way. */
const SWITCH_MARGIN_MS = 10 * 60_000

const known = new WeakMap<Db, number | null>()

export const usageLayout = {
  /** Epoch ms before which an event may have old-layout records; null if none can. */
  async legacyBefore(db: Db, now: Date): Promise<number | null> {
    const cached = known.get(db.cacheIdentity)
    if (cached !== undefined) return cached
    let item = await db.get(keys.usageLayout)
    if (!item) {
      try {
        await db.put(
          {
            ...keys.usageLayout,
            legacy_before: new Date(now.getTime() + SWITCH_MARGIN_MS).toISOString(),
          },
          { expression: 'attribute_not_exists(PK)' }
        )
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error
      }
      item = await db.get(keys.usageLayout)
    }
    const before = item?.legacy_before
    const value = typeof before === 'string' ? Date.parse(before) : null
    known.set(db.cacheIdentity, value)
    return value
  },

  /** The item a new table starts with: no event was ever stored the old way. */
  createdWithCopies(): Record<string, unknown> {
    return { ...keys.usageLayout, legacy_before: null }
  },
}

/** Whether `event` may have records in the old layout. */
export function mayBeLegacy(event: { timestamp: string }, legacyBefore: number | null): boolean {
  return legacyBefore !== null && Date.parse(event.timestamp) < legacyBefore
}
