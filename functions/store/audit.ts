import type { AuditEvent } from '../model/index.js'
import type { Db, Expression } from './db.js'
import { keys } from './keys.js'
import { type Page, type PageRequest, paginate } from './pagination.js'

export interface AuditQuery {
  actor_id?: string | undefined
  event_type?: string | undefined
  target_id?: string | undefined
  /** Inclusive lower bound on the event id's time (ULID sorts by time). */
  fromId?: string | undefined
  /** Inclusive upper bound. */
  toId?: string | undefined
}

/**
 * The audit log: `AUDIT#o` / `EVT#<ulid>`, one partition per organization, newest first.
 * A time range is a sort-key range; actor, type and target are filters.
 */
export const auditEvents = {
  async put(db: Db, event: AuditEvent): Promise<void> {
    await db.create({ ...keys.auditEvent(event.organization_id, event.id), ...event })
  },

  list(db: Db, orgId: string, query: AuditQuery, page: PageRequest): Promise<Page<AuditEvent>> {
    const filters: string[] = []
    const names: Record<string, string> = {}
    const values: Record<string, unknown> = {}
    if (query.actor_id) {
      filters.push('#actor.#id = :actor')
      names['#actor'] = 'actor'
      names['#id'] = 'id'
      values[':actor'] = query.actor_id
    }
    if (query.event_type) {
      filters.push('#type = :type')
      names['#type'] = 'event_type'
      values[':type'] = query.event_type
    }
    if (query.target_id) {
      filters.push('#target.#tid = :target')
      names['#target'] = 'target'
      names['#tid'] = 'id'
      values[':target'] = query.target_id
    }
    const filter: Expression | undefined = filters.length
      ? { expression: filters.join(' AND '), names, values }
      : undefined
    const low = `${keys.auditPrefix}${query.fromId ?? ''}`
    // '~' sorts after every id character, so it closes an open upper bound.
    const high = `${keys.auditPrefix}${query.toId ?? '~'}`
    return paginate(
      db,
      `audit:${JSON.stringify(query)}`,
      {
        partition: keys.auditPartition(orgId),
        sort: { between: [low, high] },
        forward: false,
        ...(filter ? { filter } : {}),
      },
      page,
      (item) => {
        const { PK, SK, ...event } = item
        return event as unknown as AuditEvent
      }
    )
  },
}
