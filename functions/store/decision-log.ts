import { ID_PREFIXES } from '../lib/ids.js'
import type { DecisionRecord } from '../model/index.js'
import type { Db, Item, QueryInput } from './db.js'
import { keys } from './keys.js'
import {
  decodeCursor,
  encodeCursor,
  MAX_QUERY_PAGES,
  type Page,
  type PageRequest,
} from './pagination.js'

export interface DecisionLogQuery {
  principal_id?: string | undefined
  action?: string | undefined
  decision?: 'allow' | 'deny' | undefined
  workspace_id?: string | undefined
  /** Inclusive bounds on the decision id (ULIDs sort by time). */
  fromId?: string | undefined
  toId?: string | undefined
}

/**
 * Records of one request as one item hold at most this many bytes of JSON (DynamoDB's item
 * limit is 400 KB, names and keys included); a request whose records are larger spans several
 * items.
 */
export const MAX_PACK_BYTES = 300_000

/** One item of the log as the writer hands it over, with the number of records it holds. */
export interface DecisionPack {
  item: Item
  records: number
}

/**
 * The decision log: `DLOG#o` / `DEC#<first id>`, one partition per organization, newest first
 * (docs/decision-log.md, "Storage"). One item holds the records of one request — a batch of
 * 100 decisions is one write, not 100 — as one JSON array (`body`), oldest first; their ids
 * are consecutive ULIDs of one millisecond (`DecisionRecorder` mints them in one synchronous
 * run of the process's monotonic generator), so the item that holds an id is the one with the
 * greatest first id at or below it. Items expire through the table's TTL attribute; DynamoDB
 * deletes late and dynalite never does, so every read also checks it.
 */
function packItem(orgId: string, firstId: string, bodies: string[], expiresAt: string): Item {
  return {
    ...keys.decisionRecord(orgId, firstId),
    expires_at_epoch: Math.floor(Date.parse(expiresAt) / 1000),
    body: `[${bodies.join(',')}]`,
  }
}

/** The unexpired records of an item, newest first. */
function unpack(item: Item, nowEpoch: number): DecisionRecord[] {
  if (typeof item.expires_at_epoch === 'number' && item.expires_at_epoch <= nowEpoch) return []
  const records = JSON.parse(item.body as string) as DecisionRecord[]
  return records.reverse()
}

/** `dec_` and a ULID's 10 time characters: the part of an id that names its millisecond. */
const MILLISECOND_PREFIX = ID_PREFIXES.decision.length + 1 + 10

const epoch = (now: Date) => Math.floor(now.getTime() / 1000)

function matches(record: DecisionRecord, query: DecisionLogQuery): boolean {
  const { request } = record
  return (
    (query.principal_id === undefined || request.principal?.id === query.principal_id) &&
    (query.action === undefined || request.action === query.action) &&
    (query.decision === undefined || record.decision === query.decision) &&
    (query.workspace_id === undefined || request.resource?.id === query.workspace_id)
  )
}

export const decisionLog = {
  /**
   * The items of one request's kept records (ascending consecutive ids, one organization and
   * expiry): one item, or several when their JSON passes `MAX_PACK_BYTES`.
   */
  pack(records: readonly DecisionRecord[]): DecisionPack[] {
    const packs: DecisionPack[] = []
    let bodies: string[] = []
    let firstId = ''
    let bytes = 0
    const close = () => {
      if (bodies.length === 0) return
      const { organization_id, expires_at } = records[0]!
      packs.push({
        item: packItem(organization_id, firstId, bodies, expires_at),
        records: bodies.length,
      })
      bodies = []
      bytes = 0
    }
    for (const record of records) {
      const body = JSON.stringify(record)
      const size = Buffer.byteLength(body) + 1
      if (bodies.length > 0 && bytes + size > MAX_PACK_BYTES) close()
      if (bodies.length === 0) firstId = record.id
      bodies.push(body)
      bytes += size
    }
    close()
    return packs
  },

  /** Writes items with BatchWriteItem, 25 per call, 4 calls at a time. */
  async putPacks(db: Db, packs: readonly DecisionPack[]): Promise<void> {
    if (packs.length > 0) {
      await db.batchWrite(
        packs.map((pack) => pack.item),
        [],
        4
      )
    }
  },

  async get(db: Db, orgId: string, id: string, now: Date): Promise<DecisionRecord | undefined> {
    // The item with the greatest first id at or below `id`, within the id's millisecond: the
    // one that holds `id` if any does.
    const page = await db.query({
      partition: keys.decisionLogPartition(orgId),
      sort: {
        between: [
          `${keys.decisionRecordPrefix}${id.slice(0, MILLISECOND_PREFIX)}`,
          `${keys.decisionRecordPrefix}${id}`,
        ],
      },
      forward: false,
      limit: 1,
    })
    const item = page.items[0]
    return item ? unpack(item, epoch(now)).find((record) => record.id === id) : undefined
  },

  /**
   * A page of records, newest first. The cursor is `DEC#<id>` of the last record returned (or
   * the first id of the last item examined, when the read budget ran out): the next page
   * starts after it, inside the item that holds it.
   */
  async list(
    db: Db,
    orgId: string,
    query: DecisionLogQuery,
    page: PageRequest,
    now: Date
  ): Promise<Page<DecisionRecord>> {
    const listing = `decisions:${JSON.stringify(query)}`
    const partition = keys.decisionLogPartition(orgId)
    const filtered =
      query.principal_id !== undefined ||
      query.action !== undefined ||
      query.decision !== undefined ||
      query.workspace_id !== undefined
    let startKey = page.after ? decodeCursor(page.after, listing, 'PK', partition) : undefined
    // Ids at or above the cursor's were returned already (those of the item that holds it).
    const below = startKey ? String(startKey.SK).slice(keys.decisionRecordPrefix.length) : undefined
    const nowEpoch = epoch(now)
    const data: DecisionRecord[] = []
    const cursor = (id: string) =>
      encodeCursor(listing, { PK: partition, SK: `${keys.decisionRecordPrefix}${id}` })
    for (let pages = 0; pages < MAX_QUERY_PAGES; pages++) {
      const need = page.limit + 1 - data.length
      const result = await db.query({
        ...logRange(orgId, query.fromId, query.toId),
        limit: filtered ? Math.max(need, 100) : need,
        ...(startKey ? { startKey } : {}),
      })
      for (const item of result.items) {
        for (const record of unpack(item, nowEpoch)) {
          if (below !== undefined && record.id >= below) continue
          if (!matches(record, query)) continue
          if (data.length === page.limit) {
            return { data, has_more: true, next_cursor: cursor(data.at(-1)!.id) }
          }
          data.push(record)
        }
      }
      if (!result.lastKey) return { data, has_more: false, next_cursor: null }
      startKey = result.lastKey
    }
    // Read budget spent before the page filled: hand back what we have and where to resume.
    const resume = String(startKey!.SK).slice(keys.decisionRecordPrefix.length)
    return { data, has_more: true, next_cursor: cursor(resume) }
  },

  /**
   * Up to `max` unexpired records from `fromId` on, newest first, handed over one store page
   * at a time; the next page is already being read while `onPage` works on the current one.
   */
  async scan(
    db: Db,
    orgId: string,
    fromId: string | undefined,
    max: number,
    now: Date,
    onPage: (records: DecisionRecord[]) => void | Promise<void>
  ): Promise<void> {
    const nowEpoch = epoch(now)
    const read = (startKey?: Item) =>
      db.query({ ...logRange(orgId, fromId, undefined), ...(startKey ? { startKey } : {}) })
    let seen = 0
    let pending = read()
    while (seen < max) {
      const page = await pending
      if (page.lastKey) {
        pending = read(page.lastKey)
        // Left unread when `max` is reached first; its failure then matters to no one.
        pending.catch(() => {})
      }
      const records: DecisionRecord[] = []
      for (const item of page.items) {
        for (const record of unpack(item, nowEpoch)) {
          if (seen === max) break
          records.push(record)
          seen++
        }
      }
      await onPage(records)
      if (!page.lastKey) return
    }
  },
}

/** The log's items whose first id is in [fromId, toId], newest first. */
function logRange(
  orgId: string,
  fromId: string | undefined,
  toId: string | undefined
): Omit<QueryInput, 'startKey' | 'limit'> {
  return {
    partition: keys.decisionLogPartition(orgId),
    sort: {
      between: [
        `${keys.decisionRecordPrefix}${fromId ?? ''}`,
        // '~' sorts after every id character, so it closes an open upper bound.
        `${keys.decisionRecordPrefix}${toId ?? '~'}`,
      ],
    },
    forward: false,
  }
}
