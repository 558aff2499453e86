import { randomInt } from 'node:crypto'
import type { PriceEntry, UsageEvent } from '../model/index.js'
import type { Db, Item } from './db.js'
import { keys } from './keys.js'

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

/** Fixed: the job reads every shard, so changing it needs no migration, only a deploy. */
export const USAGE_JOURNAL_SHARDS = 32
const MAX_EVENTS_PER_SLOT = 500
/** Well under DynamoDB's 400 KB item limit, whatever the lengths of the events' strings. */
const MAX_SLOT_BYTES = 300_000
/** Parallel BatchWrite/BatchGet calls per request. */
const BATCH_CONCURRENCY = 4

export interface SlotRef {
  shard: number
  id: string
}

export interface JournalSlot {
  ref: SlotRef
  created_at: string
  events: UsageEvent[]
}

/** "7/01JD…": a slot's identity in counted markers and round records. */
export function slotName(ref: SlotRef): string {
  return `${ref.shard}/${ref.id}`
}

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
      events.map((event) => keys.usageEvent(event.organization_id, event.id)),
      { attributes: ['organization_id', 'id', 'expires_at_epoch'], concurrency: BATCH_CONCURRENCY }
    )
    const nowSeconds = now.getTime() / 1000
    return new Set(
      items
        .filter((item) => (item.expires_at_epoch as number) > nowSeconds)
        .map((item) => eventIdentity(item.organization_id as string, item.id as string))
    )
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
      { attributes: ['organization_id', 'id', 'slot'], concurrency: BATCH_CONCURRENCY }
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

/** The raw event item; also what the ingestion benchmark writes as its baseline. */
export function rawEventItem(event: UsageEvent, receivedAt: string, expiresAtEpoch: number): Item {
  return {
    ...keys.usageEvent(event.organization_id, event.id),
    ...event,
    received_at: receivedAt,
    expires_at_epoch: expiresAtEpoch,
  }
}

export const usageJournal = {
  /** Appends the events in slots of at most 500 events / 300 KB, each in a random shard. */
  async append(db: Db, events: readonly UsageEvent[], now: Date, newSlotId: () => string) {
    const chunks: string[][] = [[]]
    let bytes = 0
    for (const event of events) {
      const json = JSON.stringify(event)
      let chunk = chunks[chunks.length - 1]!
      if (chunk.length >= MAX_EVENTS_PER_SLOT || bytes + json.length > MAX_SLOT_BYTES) {
        chunk = []
        chunks.push(chunk)
        bytes = 0
      }
      chunk.push(json)
      bytes += json.length + 1
    }
    const created = now.toISOString()
    await Promise.all(
      chunks
        .filter((chunk) => chunk.length > 0)
        .map((chunk) => {
          const ref: SlotRef = { shard: randomInt(USAGE_JOURNAL_SHARDS), id: newSlotId() }
          return db.create({
            ...keys.usageSlot(ref.shard, ref.id),
            shard: ref.shard,
            slot_id: ref.id,
            created_at: created,
            event_count: chunk.length,
            events: `[${chunk.join(',')}]`,
          })
        })
    )
  },

  /** The oldest slots of every shard, up to `perShard` each (strongly consistent). */
  async pending(db: Db, perShard: number): Promise<JournalSlot[]> {
    const pages = await Promise.all(
      Array.from({ length: USAGE_JOURNAL_SHARDS }, (_, shard) =>
        db.query({
          partition: keys.usageJournalPartition(shard),
          sort: { prefix: keys.usageSlotPrefix },
          limit: perShard,
          consistent: true,
        })
      )
    )
    return pages.flatMap((page) => page.items.map(toSlot))
  },

  /** The slots that still exist among `refs`. */
  async get(db: Db, refs: readonly SlotRef[]): Promise<JournalSlot[]> {
    const items = await db.batchGet(
      refs.map((ref) => keys.usageSlot(ref.shard, ref.id)),
      { concurrency: BATCH_CONCURRENCY }
    )
    return items.map(toSlot)
  },

  async remove(db: Db, refs: readonly SlotRef[]): Promise<void> {
    await db.batchWrite(
      [],
      refs.map((ref) => keys.usageSlot(ref.shard, ref.id)),
      BATCH_CONCURRENCY
    )
  },
}

function toSlot(item: Item): JournalSlot {
  return {
    ref: { shard: item.shard as number, id: item.slot_id as string },
    created_at: item.created_at as string,
    events: JSON.parse(item.events as string) as UsageEvent[],
  }
}

/** What ingestion needs to know about the organizations and workspaces a batch names. */
export interface IngestionScopes {
  /** Existing organizations and their own price entries. */
  organizations: Map<string, { priceEntries: PriceEntry[] }>
  /** `org/ws` of existing workspaces. */
  workspaces: Set<string>
}

/** One batched read of the organizations, their prices and the workspaces named by a batch. */
export async function ingestionScopes(
  db: Db,
  organizationIds: readonly string[],
  workspaceRefs: readonly { organization_id: string; workspace_id: string }[]
): Promise<IngestionScopes> {
  const items = await db.batchGet(
    [
      ...organizationIds.flatMap((org) => [keys.organization(org), keys.prices(org)]),
      ...workspaceRefs.map((ref) => keys.workspace(ref.organization_id, ref.workspace_id)),
    ],
    { concurrency: BATCH_CONCURRENCY }
  )
  const organizations = new Map<string, { priceEntries: PriceEntry[] }>()
  const priceEntries = new Map<string, PriceEntry[]>()
  const workspaces = new Set<string>()
  for (const item of items) {
    const pk = item.PK as string
    if (item.SK === 'ORG') organizations.set(item.id as string, { priceEntries: [] })
    else if (item.SK === 'PRICES') priceEntries.set(pk, item.entries as PriceEntry[])
    else workspaces.add(`${item.organization_id as string}/${item.id as string}`)
  }
  for (const [org, value] of organizations) {
    value.priceEntries = priceEntries.get(keys.prices(org).PK) ?? []
  }
  return { organizations, workspaces }
}
