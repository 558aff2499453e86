import { randomInt } from 'node:crypto'
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import type { UsageEvent } from '../../model/index.js'
import type { Db, Item } from '../db.js'
import { keys } from '../keys.js'

/** The usage journal: slots of accepted events, waiting for the aggregation job (events.ts). */

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

/** "7/01JD…": a slot's identity in event copies and round records. */
export function slotName(ref: SlotRef): string {
  return `${ref.shard}/${ref.id}`
}

export function parseSlotName(name: string): SlotRef {
  const slash = name.indexOf('/')
  return { shard: Number(name.slice(0, slash)), id: name.slice(slash + 1) }
}

export const usageJournal = {
  /**
   * Appends the events in slots of at most 500 events / 300 KB, each in a random shard, and
   * returns which slot holds which events.
   */
  async append(
    db: Db,
    events: readonly UsageEvent[],
    now: Date,
    newSlotId: () => string
  ): Promise<{ ref: SlotRef; events: UsageEvent[] }[]> {
    const slots = journalSlots(events, now, newSlotId)
    await Promise.all(slots.map((slot) => db.create(slot.item)))
    return slots.map(({ ref, events }) => ({ ref, events }))
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

  /**
   * Which of these slots (by `slotName`) are still in the journal. A slot leaves it only when the
   * job has counted it, so a copy naming a slot not in the journal was counted (or dropped) by
   * an earlier round (aggregation.ts).
   */
  async stillJournalled(db: Db, names: readonly string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set()
    const items = await db.batchGet(
      names.map((name) => {
        const ref = parseSlotName(name)
        return keys.usageSlot(ref.shard, ref.id)
      }),
      { attributes: ['shard', 'slot_id'], concurrency: BATCH_CONCURRENCY }
    )
    return new Set(
      items.map((item) => slotName({ shard: item.shard as number, id: item.slot_id as string }))
    )
  },

  async remove(db: Db, refs: readonly SlotRef[]): Promise<void> {
    await db.batchWrite(
      [],
      refs.map((ref) => keys.usageSlot(ref.shard, ref.id)),
      BATCH_CONCURRENCY
    )
  },
}

/**
 * The slots that journal `events`: each with its ref, its events and its item (also what the
 * ingestion benchmark's baseline writes).
 */
export function journalSlots(
  events: readonly UsageEvent[],
  now: Date,
  newSlotId: () => string
): { ref: SlotRef; events: UsageEvent[]; item: Item }[] {
  const chunks: { events: UsageEvent[]; json: string[] }[] = [{ events: [], json: [] }]
  let bytes = 0
  for (const event of events) {
    const json = JSON.stringify(toTuple(event))
    let chunk = chunks[chunks.length - 1]!
    if (chunk.json.length >= MAX_EVENTS_PER_SLOT || bytes + json.length > MAX_SLOT_BYTES) {
      chunk = { events: [], json: [] }
      chunks.push(chunk)
      bytes = 0
    }
    chunk.events.push(event)
    chunk.json.push(json)
    bytes += json.length + 1
  }
  const created = now.toISOString()
  return chunks
    .filter((chunk) => chunk.json.length > 0)
    .map((chunk) => {
      const ref: SlotRef = { shard: randomInt(USAGE_JOURNAL_SHARDS), id: newSlotId() }
      return {
        ref,
        events: chunk.events,
        item: {
          ...keys.usageSlot(ref.shard, ref.id),
          shard: ref.shard,
          slot_id: ref.id,
          created_at: created,
          event_count: chunk.json.length,
          events_z: compressEvents(`[${chunk.json.join(',')}]`),
        },
      }
    })
}

function toSlot(item: Item): JournalSlot {
  return {
    ref: { shard: item.shard as number, id: item.slot_id as string },
    created_at: item.created_at as string,
    events: (JSON.parse(storedEventsJson(item)) as EventTuple[]).map(fromTuple),
  }
}

/**
 * A slot's events are stored deflated (`events_z`, binary): the tuples of one request repeat
 * the same organization, workspaces, models and times, so they shrink about sixfold, and a slot
 * is written, read and deleted by its size (write and read units). Slots written before that
 * hold the JSON text in `events`.
 */
function compressEvents(json: string): Uint8Array {
  return deflateRawSync(Buffer.from(json, 'utf8'), { level: 3 })
}

/** The JSON text of a slot item's event tuples, either way it was stored. */
export function storedEventsJson(item: Item): string {
  if (item.events_z !== undefined) {
    return inflateRawSync(item.events_z as Uint8Array).toString('utf8')
  }
  return item.events as string
}

/** Slots store events as JSON arrays in this field order: about half the bytes of objects. */
type EventTuple = [
  string,
  string,
  string,
  string,
  string,
  string,
  string | null,
  string | null,
  number,
  number,
  number,
  number,
  sub_micros?: number,
]

function toTuple(e: UsageEvent): EventTuple {
  const tuple: EventTuple = [
    e.id,
    e.organization_id,
    e.workspace_id,
    e.timestamp,
    e.product,
    e.model,
    e.api_key_id,
    e.member_id,
    e.input_tokens,
    e.output_tokens,
    e.requests,
    e.cost_micros,
  ]
  // The sub-micro part of the cost only when there is one (most prices are whole micros a token).
  if (e.cost_sub_micros) tuple.push(e.cost_sub_micros)
  return tuple
}

function fromTuple(t: EventTuple): UsageEvent {
  return {
    id: t[0],
    organization_id: t[1],
    workspace_id: t[2],
    timestamp: t[3],
    product: t[4],
    model: t[5],
    api_key_id: t[6],
    member_id: t[7],
    input_tokens: t[8],
    output_tokens: t[9],
    requests: t[10],
    cost_micros: t[11],
    ...(t[12] ? { cost_sub_micros: t[12] } : {}),
  }
}
