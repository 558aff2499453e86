import { randomInt } from 'node:crypto'
import type { PriceEntry, UsageEvent } from '../../model/index.js'
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
      // No projection: dynalite answers faster without one, and the items are small.
      { concurrency: BATCH_CONCURRENCY }
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
    await Promise.all(journalSlotItems(events, now, newSlotId).map((item) => db.create(item)))
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

/** The slot items that journal `events` (also what the ingestion benchmark's baseline writes). */
export function journalSlotItems(
  events: readonly UsageEvent[],
  now: Date,
  newSlotId: () => string
): Item[] {
  const chunks: string[][] = [[]]
  let bytes = 0
  for (const event of events) {
    const json = JSON.stringify(toTuple(event))
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
  return chunks
    .filter((chunk) => chunk.length > 0)
    .map((chunk) => {
      const ref: SlotRef = { shard: randomInt(USAGE_JOURNAL_SHARDS), id: newSlotId() }
      return {
        ...keys.usageSlot(ref.shard, ref.id),
        shard: ref.shard,
        slot_id: ref.id,
        created_at: created,
        event_count: chunk.length,
        events: `[${chunk.join(',')}]`,
      }
    })
}

function toSlot(item: Item): JournalSlot {
  return {
    ref: { shard: item.shard as number, id: item.slot_id as string },
    created_at: item.created_at as string,
    events: (JSON.parse(item.events as string) as EventTuple[]).map(fromTuple),
  }
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
]

function toTuple(e: UsageEvent): EventTuple {
  return [
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
  }
}

/** What ingestion needs to know about the organizations, workspaces, keys and members a batch
 * names. Names are `org/id`. */
export interface IngestionScopes {
  /** Existing organizations and their own price entries. */
  organizations: Map<string, { priceEntries: PriceEntry[] }>
  /** Existing workspaces and whether they are archived. */
  workspaces: Map<string, { archived: boolean }>
  /** Existing workspace API keys (revoked and expired ones too) and their workspace. */
  apiKeys: Map<string, { workspace_id: string }>
  /** Members that exist and are not being created or removed. */
  members: Set<string>
}

/** `org/id`: how IngestionScopes names a workspace, an API key or a member. */
export function scopedName(organizationId: string, id: string): string {
  return `${organizationId}/${id}`
}

/**
 * Facts that never change once true, remembered per table by this process: organizations exist
 * (the API never deletes one), and an API key exists in its workspace (keys are revoked, never
 * deleted nor moved). Unknown ones are always read again. Bounded: forgotten wholesale past
 * 100,000 entries. Workspaces and members are read on every request: an archive, unarchive or
 * removal must count at once.
 */
const remembered = new Map<string, { organizations: Set<string>; apiKeys: Map<string, string> }>()
const REMEMBERED_LIMIT = 100_000

function rememberedFacts(db: Db) {
  let facts = remembered.get(db.tableName)
  if (!facts || facts.organizations.size + facts.apiKeys.size > REMEMBERED_LIMIT) {
    facts = { organizations: new Set(), apiKeys: new Map() }
    remembered.set(db.tableName, facts)
  }
  return facts
}

/**
 * One batched read (one BatchGetItem per 100 distinct keys) of the organizations' prices, of the
 * organizations this process has not seen exist yet, and of the distinct workspaces, API keys
 * and members the batch names.
 */
export async function ingestionScopes(
  db: Db,
  organizationIds: readonly string[],
  refs: {
    workspaces: readonly { organization_id: string; id: string }[]
    apiKeys: readonly { organization_id: string; id: string }[]
    members: readonly { organization_id: string; id: string }[]
  }
): Promise<IngestionScopes> {
  const facts = rememberedFacts(db)
  const known = facts.organizations
  type Kind = 'prices' | 'organization' | 'workspace' | 'apiKey' | 'member'
  const wanted = new Map<string, { kind: Kind; organizationId: string; id: string }>()
  const want = (key: Key, kind: Kind, organizationId: string, id: string) =>
    wanted.set(`${key.PK}\n${key.SK}`, { kind, organizationId, id })
  for (const org of organizationIds) {
    want(keys.prices(org), 'prices', org, org)
    if (!known.has(org)) want(keys.organization(org), 'organization', org, org)
  }
  for (const ref of refs.workspaces) {
    want(keys.workspace(ref.organization_id, ref.id), 'workspace', ref.organization_id, ref.id)
  }
  for (const ref of refs.apiKeys) {
    if (facts.apiKeys.has(scopedName(ref.organization_id, ref.id))) continue
    want(keys.apiKey(ref.organization_id, ref.id), 'apiKey', ref.organization_id, ref.id)
  }
  for (const ref of refs.members) {
    want(keys.member(ref.organization_id, ref.id), 'member', ref.organization_id, ref.id)
  }
  const items = await db.batchGet(
    [...wanted.keys()].map((id) => {
      const [PK, SK] = id.split('\n') as [string, string]
      return { PK, SK }
    }),
    // No projection: dynalite answers faster without one, and the items are small.
    { concurrency: BATCH_CONCURRENCY }
  )
  const result: IngestionScopes = {
    organizations: new Map(),
    workspaces: new Map(),
    apiKeys: new Map(),
    members: new Set(),
  }
  const priceEntries = new Map<string, PriceEntry[]>()
  for (const item of items) {
    const request = wanted.get(`${item.PK}\n${item.SK}`)
    if (!request) continue
    const name = scopedName(request.organizationId, request.id)
    switch (request.kind) {
      case 'prices':
        priceEntries.set(request.organizationId, item.entries as PriceEntry[])
        break
      case 'organization':
        known.add(request.organizationId)
        break
      case 'workspace':
        result.workspaces.set(name, { archived: item.status === 'archived' })
        break
      case 'apiKey':
        facts.apiKeys.set(name, item.workspace_id as string)
        break
      case 'member':
        if (item.state === 'ready') result.members.add(name)
        break
    }
  }
  for (const org of organizationIds) {
    if (!known.has(org)) continue
    result.organizations.set(org, { priceEntries: priceEntries.get(org) ?? [] })
  }
  for (const ref of refs.apiKeys) {
    const workspaceId = facts.apiKeys.get(scopedName(ref.organization_id, ref.id))
    if (workspaceId !== undefined) {
      result.apiKeys.set(scopedName(ref.organization_id, ref.id), { workspace_id: workspaceId })
    }
  }
  return result
}
