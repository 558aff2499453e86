import { encodeTime } from 'ulid'
import { ID_PREFIXES, newId } from '../lib/ids.js'
import type { AuditEvent } from '../model/index.js'
import { auditEvents } from '../store/audit.js'
import type { PageRequest } from '../store/pagination.js'
import { revisions } from '../store/revisions.js'
import type { ServiceContext } from './context.js'

export interface AuditEntry {
  /** A pre-assigned id makes the write idempotent (a second write with it fails as a conflict). */
  id?: string
  event_type: string
  target: { type: string; id: string }
  workspace_id?: string | null
  before?: unknown
  after?: unknown
}

/**
 * Appends an event to the organization's audit log. Called after the change it describes has
 * been written, so the log never shows a change that did not happen. Every change is
 * audited, so this is also where the organization's revision is bumped: cached decision data
 * of an older revision is not used again (docs/authorization.md).
 */
export async function recordAudit(
  ctx: ServiceContext,
  organizationId: string,
  entry: AuditEntry
): Promise<AuditEvent> {
  const now = ctx.clock.now()
  const event: AuditEvent = {
    id: entry.id ?? newId('auditEvent', now),
    object: 'audit_event',
    organization_id: organizationId,
    occurred_at: now.toISOString(),
    event_type: entry.event_type,
    actor: ctx.actor,
    target: entry.target,
    workspace_id: entry.workspace_id ?? null,
    before: entry.before ?? null,
    after: entry.after ?? null,
    request_id: ctx.requestId,
  }
  await Promise.all([auditEvents.put(ctx.db, event), revisions.bump(ctx.db, organizationId)])
  return event
}

export interface AuditFilter {
  actor_id?: string | undefined
  event_type?: string | undefined
  target_id?: string | undefined
  /** Events at or after this time. */
  after_time?: Date | undefined
  /** Events before this time. */
  before_time?: Date | undefined
}

/** Audit events, newest first. A time range becomes a range of event ids (ULIDs sort by time). */
export function listAuditEvents(
  ctx: ServiceContext,
  organizationId: string,
  filter: AuditFilter,
  page: PageRequest
) {
  const { after_time, before_time } = filter
  if (after_time && before_time && after_time.getTime() >= before_time.getTime()) {
    // An empty range: the store refuses a sort-key range whose bounds are out of order.
    return Promise.resolve({ data: [], has_more: false, next_cursor: null })
  }
  const prefix = `${ID_PREFIXES.auditEvent}_`
  return auditEvents.list(
    ctx.db,
    organizationId,
    {
      actor_id: filter.actor_id,
      event_type: filter.event_type,
      target_id: filter.target_id,
      fromId: filter.after_time
        ? `${prefix}${encodeTime(filter.after_time.getTime(), 10)}`
        : undefined,
      toId: filter.before_time
        ? `${prefix}${encodeTime(Math.max(0, filter.before_time.getTime() - 1), 10)}${'Z'.repeat(16)}`
        : undefined,
    },
    page
  )
}
