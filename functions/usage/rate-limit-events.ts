import { newId } from '../lib/ids.js'
import { logger } from '../lib/logger.js'
import type { AuditEvent } from '../model/index.js'
import { auditEvents } from '../store/audit.js'
import type { Db } from '../store/db.js'
import { emitWebhookEvent, eventIdFor } from '../webhooks/events.js'

/** A rate limit window that one admitted decision has just used up (once per window). */
export interface RateLimitExhausted {
  organization_id: string
  /** The workspace whose own limit it is; null for the organization's limit. */
  workspace_id: string | null
  model: string
  limit_type: 'requests_per_minute' | 'tokens_per_minute' | 'tokens_per_month'
  limit: number
  window_start: string
  resets_at: string
}

export type RateLimitListener = (db: Db, event: RateLimitExhausted, at: Date) => Promise<void>

const listeners: RateLimitListener[] = []

/**
 * Subscribes to `rate_limit.exhausted` (e.g. the webhook outbox). Listeners run after the
 * audit entry, in order; a failing one is logged and never fails the decision that crossed.
 */
export function onRateLimitExhausted(listener: RateLimitListener): () => void {
  listeners.push(listener)
  return () => {
    const index = listeners.indexOf(listener)
    if (index >= 0) listeners.splice(index, 1)
  }
}

/**
 * Records that a window was used up: an audit entry `rate_limit.exhausted` (system actor), the
 * webhook event of the same name, then the listeners. Written straight to the audit log, without bumping the organization's revision
 * as `recordAudit` does: nothing a decision reads has changed, so decision caches stay warm.
 */
export async function rateLimitExhausted(
  db: Db,
  event: RateLimitExhausted,
  at: Date
): Promise<void> {
  const entry: AuditEvent = {
    id: newId('auditEvent', at),
    object: 'audit_event',
    organization_id: event.organization_id,
    occurred_at: at.toISOString(),
    event_type: 'rate_limit.exhausted',
    actor: { type: 'system', id: 'rate-limiter' },
    target: event.workspace_id
      ? { type: 'workspace', id: event.workspace_id }
      : { type: 'organization', id: event.organization_id },
    workspace_id: event.workspace_id,
    before: null,
    after: event,
    request_id: `rate-limit:${event.window_start}`,
  }
  try {
    await auditEvents.put(db, entry)
    // Keyed by the audit entry: a window is announced once per subscribed endpoint.
    await emitWebhookEvent({ db, clock: { now: () => at } }, event.organization_id, {
      type: 'rate_limit.exhausted',
      id: eventIdFor(entry.id),
      data: { ...event },
    })
    for (const listener of listeners) await listener(db, event, at)
  } catch (error) {
    logger.error('rate_limit.exhausted could not be recorded', { error, event })
  }
}
