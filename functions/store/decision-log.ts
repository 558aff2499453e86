import type { DecisionRecord } from '../model/index.js'
import type { Db, Expression, Item } from './db.js'
import { keys } from './keys.js'
import { type Page, type PageRequest, paginate } from './pagination.js'

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
 * The decision log: `DLOG#o` / `DEC#<ulid>`, one partition per organization, newest first.
 * The record is kept as one JSON string (`body`): replaying 100,000 of them is dominated by
 * unmarshalling, and a string is the cheapest attribute to unmarshal. The fields the list
 * filters on are copied beside it as top-level scalars. Items expire through the table's TTL
 * attribute; DynamoDB deletes late and dynalite never does, so every read also checks it.
 */
function toItem(record: DecisionRecord): Item {
  return {
    ...keys.decisionRecord(record.organization_id, record.id),
    principal_id: record.request.principal?.id ?? null,
    action: record.request.action,
    decision: record.decision,
    workspace_id: record.request.resource?.id ?? null,
    expires_at_epoch: Math.floor(Date.parse(record.expires_at) / 1000),
    body: JSON.stringify(record),
  }
}

function live(item: Item, nowEpoch: number): DecisionRecord | undefined {
  if (typeof item.expires_at_epoch === 'number' && item.expires_at_epoch <= nowEpoch) {
    return undefined
  }
  return JSON.parse(item.body as string) as DecisionRecord
}

const epoch = (now: Date) => Math.floor(now.getTime() / 1000)

export const decisionLog = {
  /** Writes records with BatchWriteItem, 25 per call (ids are unique: last write may win). */
  async putMany(db: Db, records: readonly DecisionRecord[]): Promise<void> {
    if (records.length > 0) await db.batchWrite(records.map(toItem), [], 4)
  },

  async get(db: Db, orgId: string, id: string, now: Date): Promise<DecisionRecord | undefined> {
    const item = await db.get(keys.decisionRecord(orgId, id))
    return item ? live(item, epoch(now)) : undefined
  },

  list(
    db: Db,
    orgId: string,
    query: DecisionLogQuery,
    page: PageRequest,
    now: Date
  ): Promise<Page<DecisionRecord>> {
    const filters: string[] = []
    const names: Record<string, string> = {}
    const values: Record<string, unknown> = {}
    for (const field of ['principal_id', 'action', 'decision', 'workspace_id'] as const) {
      const value = query[field]
      if (value === undefined) continue
      filters.push(`#${field} = :${field}`)
      names[`#${field}`] = field
      values[`:${field}`] = value
    }
    const filter: Expression | undefined = filters.length
      ? { expression: filters.join(' AND '), names, values }
      : undefined
    const nowEpoch = epoch(now)
    return paginate(
      db,
      `decisions:${JSON.stringify(query)}`,
      {
        partition: keys.decisionLogPartition(orgId),
        sort: {
          between: [
            `${keys.decisionRecordPrefix}${query.fromId ?? ''}`,
            // '~' sorts after every id character, so it closes an open upper bound.
            `${keys.decisionRecordPrefix}${query.toId ?? '~'}`,
          ],
        },
        forward: false,
        ...(filter ? { filter } : {}),
      },
      page,
      (item) => live(item, nowEpoch)
    )
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
      db.query({
        partition: keys.decisionLogPartition(orgId),
        sort: {
          between: [`${keys.decisionRecordPrefix}${fromId ?? ''}`, `${keys.decisionRecordPrefix}~`],
        },
        forward: false,
        ...(startKey ? { startKey } : {}),
      })
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
        const record = live(item, nowEpoch)
        if (record && seen < max) {
          records.push(record)
          seen++
        }
      }
      await onPage(records)
      if (!page.lastKey) return
    }
  },
}
