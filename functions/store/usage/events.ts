import { fnv1a32 } from '../../lib/hash.js'
import type { UsageEvent } from '../../model/index.js'
import { type Db, forEachConcurrently, type Item } from '../db.js'
import { keys } from '../keys.js'

/**
 * Ingested usage lives in two kinds of items (docs/access-patterns.md, "Usage"):
 * - a journal slot `UJ#<shard>` / `S#<ulid>` holding the accepted events of one request (up to
 *   500), which the aggregation job reads and deletes; slots go to a random one of
 *   USAGE_JOURNAL_SHARDS partitions so one busy workspace spreads its writes;
 * - a copy of each event `UEVC#<org>#<bucket>` / `<event id> <slot>`, written after its slot and
 *   kept until its TTL: the record that the id was seen (ingestion reports later copies as
 *   duplicates), the retained raw data, and — as the slot is in its key — which slots ever held
 *   the id. Two copies of one id exist only when two requests raced with it or a request died
 *   between its slot and its copies; the job counts such an id once (aggregation.ts).
 *
 * Copies are never overwritten (each slot writes its own key) and are read by sort-key range:
 * the ids of one request usually sort close together (time-ordered ids, counters), so a range
 * read returns a batch's copies — or their absence — in a few requests costing by size, not by
 * item. Ids that do not sort together are read one prefix query each (`copiesOf`).
 */

/** Parallel BatchGet calls per request (the old layout's reads). */
const BATCH_CONCURRENCY = 4
/**
 * Parallel BatchWrite calls for one request's copies: all of them for a full request (1,000
 * events, 25 a call). With every copy write in flight at once the store has the request's writes
 * queued while the API works on the other requests; 4 at a time left the embedded store idle
 * about a sixth of the time (issue 12, README "Usage"). The SDK's connection pool (50 sockets)
 * bounds what several requests of one process send at once.
 */
export const COPY_WRITE_CONCURRENCY = 40
/**
 * Parallel prefix queries for ids that do not sort together (one per id): as many as the SDK's
 * default connection pool keeps open (50), less some for the request's other calls.
 */
const SINGLE_QUERY_CONCURRENCY = 32
/**
 * Partitions per organization (by the id's hash): 16 × 1,000 write units per second of copies
 * for one organization. Fixed: a copy must be found where every other copy of its id went.
 */
export const USAGE_EVENT_BUCKETS = 16
/** Parallel range queries of one duplicate check: one per bucket of an organization, at once. */
const QUERY_CONCURRENCY = USAGE_EVENT_BUCKETS

/** Key of an (organization, event id) pair in maps and sets. */
export function eventIdentity(organizationId: string, eventId: string): string {
  return `${organizationId}\n${eventId}`
}

/** The bucket of an event id: FNV-1a of the id, modulo the bucket count. */
export function eventBucket(eventId: string): number {
  return fnv1a32(eventId) % USAGE_EVENT_BUCKETS
}

/** The copy item of `event` held by `slot`; also what the ingestion benchmark writes. */
export function copyItem(
  event: UsageEvent,
  slot: string,
  receivedAt: string,
  expiresAtEpoch: number
): Item {
  return {
    ...keys.usageEventCopy(event.organization_id, eventBucket(event.id), event.id, slot),
    ...event,
    // The slot is in the sort key only (`parseCopy`).
    received_at: receivedAt,
    expires_at_epoch: expiresAtEpoch,
  }
}

/** For each (organization, id) looked up that has copies: the slots holding one. */
export type CopiesByEvent = Map<string, Set<string>>

export const usageEvents = {
  /**
   * The slots holding a copy of each of `events` that was not expired at `now` (strongly
   * consistent). Per organization and bucket, one range read from the smallest id to the
   * largest; it reads at most `spread` items per id looked up (plus a few) before the ids it
   * has not reached are read one prefix query each — ids that do not sort together.
   */
  async copiesOf(
    db: Db,
    events: readonly { organization_id: string; id: string }[],
    now: Date,
    spread = 2
  ): Promise<CopiesByEvent> {
    const groups = new Map<string, { org: string; bucket: number; ids: Set<string> }>()
    for (const event of events) {
      const bucket = eventBucket(event.id)
      const name = `${event.organization_id}\n${bucket}`
      let group = groups.get(name)
      if (!group) {
        group = { org: event.organization_id, bucket, ids: new Set() }
        groups.set(name, group)
      }
      group.ids.add(event.id)
    }
    const found: CopiesByEvent = new Map()
    const nowSeconds = now.getTime() / 1000
    const take = (org: string, items: readonly Item[], wanted: ReadonlySet<string>) => {
      for (const item of items) {
        const copy = parseCopy(item.SK as string)
        if (!copy || !wanted.has(copy.id)) continue
        if ((item.expires_at_epoch as number) <= nowSeconds) continue
        const identity = eventIdentity(org, copy.id)
        const slots = found.get(identity)
        if (slots) slots.add(copy.slot)
        else found.set(identity, new Set([copy.slot]))
      }
    }
    const singles: { org: string; id: string }[] = []
    await forEachConcurrently([...groups.values()], QUERY_CONCURRENCY, async (group) => {
      const ids = [...group.ids].sort(compare)
      if (ids.length === 1) {
        singles.push({ org: group.org, id: ids[0]! })
        return
      }
      const partition = keys.usageEventCopies(group.org, group.bucket)
      const budget = ids.length * spread + 16
      let read = 0
      let startKey: Item | undefined
      let reached: string | undefined
      do {
        const page = await db.query({
          partition,
          sort: { between: [`${ids[0]} `, `${ids[ids.length - 1]} \x7f`] },
          limit: budget - read,
          consistent: true,
          ...(startKey ? { startKey } : {}),
        })
        take(group.org, page.items, group.ids)
        read += page.items.length
        startKey = page.lastKey
        reached = startKey ? parseCopy(startKey.SK as string)?.id : undefined
      } while (startKey && read < budget)
      if (!startKey) return
      // Not sorted together: the ids not reached (and the last one reached, whose next copies
      // may follow) are read one by one.
      for (const id of ids) {
        if (reached === undefined || compare(id, reached) >= 0) {
          singles.push({ org: group.org, id })
        }
      }
    })
    await forEachConcurrently(singles, SINGLE_QUERY_CONCURRENCY, async ({ org, id }) => {
      take(org, await copiesOfOne(db, org, id), new Set([id]))
    })
    return found
  },

  /**
   * Writes the copies of `events`, each naming the slot that holds it (unconditional: a copy's
   * key includes its slot, so no write replaces another slot's copy).
   */
  async putCopies(
    db: Db,
    copies: readonly { event: UsageEvent; slot: string }[],
    receivedAt: Date,
    expiresAtEpoch: (event: UsageEvent) => number
  ): Promise<void> {
    const received = receivedAt.toISOString()
    await db.batchWrite(
      copies.map(({ event, slot }) => copyItem(event, slot, received, expiresAtEpoch(event))),
      [],
      COPY_WRITE_CONCURRENCY
    )
  },

  /** The stored copies of one event (its retained raw data), not expired at `now`. */
  async stored(db: Db, organizationId: string, eventId: string, now: Date): Promise<Item[]> {
    const items = await copiesOfOne(db, organizationId, eventId)
    return items.filter((item) => (item.expires_at_epoch as number) > now.getTime() / 1000)
  },

  /** Old layout (layout.ts): which of `events` have a raw item not expired at `now`. */
  async legacySeen(
    db: Db,
    events: readonly { organization_id: string; id: string }[],
    now: Date
  ): Promise<Set<string>> {
    if (events.length === 0) return new Set()
    const items = await db.batchGet(
      events.map((event) => keys.usageEvent(event.organization_id, event.id)),
      { concurrency: BATCH_CONCURRENCY }
    )
    const nowSeconds = now.getTime() / 1000
    return new Set(
      items
        .filter((item) => (item.expires_at_epoch as number) > nowSeconds)
        .map((item) => eventIdentity(item.organization_id as string, item.id as string))
    )
  },

  /** Old layout (layout.ts): for each of `events` the old job counted, the slot it counted. */
  async legacyCountedIn(
    db: Db,
    events: readonly { organization_id: string; id: string }[]
  ): Promise<Map<string, string>> {
    if (events.length === 0) return new Map()
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
}

/** Every copy of one event id (one prefix query: an id's copies are few). */
function copiesOfOne(db: Db, organizationId: string, eventId: string): Promise<Item[]> {
  return db.queryAll({
    partition: keys.usageEventCopies(organizationId, eventBucket(eventId)),
    sort: { prefix: `${eventId} ` },
    consistent: true,
  })
}

/** The event id and slot of a copy's sort key (`<id> <slot>`); undefined for other items. */
function parseCopy(sortKey: string): { id: string; slot: string } | undefined {
  const space = sortKey.lastIndexOf(' ')
  if (space <= 0) return undefined
  return { id: sortKey.slice(0, space), slot: sortKey.slice(space + 1) }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
