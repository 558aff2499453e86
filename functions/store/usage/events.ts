import type { UsageEvent } from '../../model/index.js'
import type { Db, Item, Key } from '../db.js'
import { keys } from '../keys.js'

/**
 * Ingested usage lives in three kinds of items (docs/access-patterns.md, "Usage"):
 * - the raw event `UEV#<org>#<event id>` / `RAW`, kept until its TTL: the record that an event
 *   id was seen (ingestion reports later copies as duplicates) and the retained raw data;
 * - a journal slot `UJ#<shard>` / `S#<ulid>` holding the accepted events of one request (up to
 *   500), which the aggregation job reads and deletes; slots go to a random one of
 *   USAGE_JOURNAL_SHARDS partitions so one busy workspace spreads its writes;
 * - the counted marker `UEV#<org>#<event id>` / `COUNTED`, written by the job: the slot whose
 *   copy of the event was counted, so no later copy is counted again.
 */

/** Parallel BatchWrite/BatchGet calls per request. */
const BATCH_CONCURRENCY = 4

/** Key of an (organization, event id) pair in maps and sets. */
export function eventIdentity(organizationId: string, eventId: string): string {
  return `${organizationId}\n${eventId}`
}

export const usageEvents = {
  /** Which of these events were seen before (raw item present and not expired at `now`). */
  async seen(
    db: Db,
    events: readonly { organization_id: string; id: string }[],
    now: Date
  ): Promise<Set<string>> {
    const items = await db.batchGet(
      usageEvents.seenKeys(events),
      // No projection: dynalite answers faster without one, and the items are small.
      { concurrency: BATCH_CONCURRENCY }
    )
    return seenAmong(items, now)
  },

  /** The keys `seen` reads (ingestion batches them with other reads). */
  seenKeys(events: readonly { organization_id: string; id: string }[]): Key[] {
    return events.map((event) => keys.usageEvent(event.organization_id, event.id))
  },

  /** Writes the raw events (unconditional: every copy of an id carries the same data). */
  async putRaw(
    db: Db,
    events: readonly UsageEvent[],
    receivedAt: Date,
    expiresAtEpoch: (event: UsageEvent) => number
  ): Promise<void> {
    const received = receivedAt.toISOString()
    await db.batchWrite(
      events.map((event) => rawEventItem(event, received, expiresAtEpoch(event))),
      [],
      BATCH_CONCURRENCY
    )
  },

  /** For each event that was counted already: the slot it was counted from. */
  async countedIn(
    db: Db,
    events: readonly { organization_id: string; id: string }[]
  ): Promise<Map<string, string>> {
    const unique = new Map(events.map((e) => [eventIdentity(e.organization_id, e.id), e]))
    const items = await db.batchGet(
      [...unique.values()].map((event) => keys.usageCounted(event.organization_id, event.id)),
      { concurrency: BATCH_CONCURRENCY }
    )
    return new Map(
      items.map((item) => [
        eventIdentity(item.organization_id as string, item.id as string),
        item.slot as string,
      ])
    )
  },

  async markCounted(
    db: Db,
    markers: readonly { organization_id: string; id: string; slot: string; expires: number }[]
  ): Promise<void> {
    await db.batchWrite(
      markers.map((marker) => ({
        ...keys.usageCounted(marker.organization_id, marker.id),
        organization_id: marker.organization_id,
        id: marker.id,
        slot: marker.slot,
        expires_at_epoch: marker.expires,
      })),
      [],
      BATCH_CONCURRENCY
    )
  },
}

/** The identities of the raw event items among `items` that were not expired at `now`. */
export function seenAmong(items: readonly Item[], now: Date): Set<string> {
  const nowSeconds = now.getTime() / 1000
  return new Set(
    items
      .filter((item) => (item.expires_at_epoch as number) > nowSeconds)
      .map((item) => eventIdentity(item.organization_id as string, item.id as string))
  )
}

/** The raw event item; also what the ingestion benchmark writes as its baseline. */
export function rawEventItem(event: UsageEvent, receivedAt: string, expiresAtEpoch: number): Item {
  return {
    ...keys.usageEvent(event.organization_id, event.id),
    ...event,
    received_at: receivedAt,
    expires_at_epoch: expiresAtEpoch,
  }
}
