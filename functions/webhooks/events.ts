import type { Clock } from '../lib/clock.js'
import { DAY_MS, epochSeconds } from '../lib/clock.js'
import { ID_PREFIXES, newId } from '../lib/ids.js'
import {
  WEBHOOK_TEST_EVENT,
  type WebhookEndpoint,
  type WebhookEvent,
  type WebhookEventType,
} from '../model/webhooks.js'
import type { Db } from '../store/db.js'
import { webhookDeliveries, webhookEndpoints } from '../store/webhooks.js'

/** A delivery is retried until this long after its event (contract: "for 24 h"). */
export const RETRY_WINDOW_MS = DAY_MS
/** Deliveries (with their attempts) stay listable this long, then the table's TTL drops them. */
export const DELIVERY_RETENTION_MS = 30 * DAY_MS

export interface EmitContext {
  db: Db
  clock: Clock
}

export interface EmittedEvent {
  type: WebhookEventType
  data: Record<string, unknown>
  /**
   * A fixed id (`msg_…`) makes the emission idempotent: a source that repeats after a crash
   * enqueues nothing twice, because each endpoint's delivery is keyed by the event id.
   */
  id?: string
}

/**
 * Puts an event of the organization in the outbox, once for every endpoint subscribed to its
 * type: in the same request (or job run) as the change it reports, so an accepted change is
 * never left without its event. Costs one Query of the organization's endpoints and one
 * conditional put per subscribed endpoint; delivery happens later (deliverer.ts).
 *
 * Sources call this after their change is written. `rate_limit.exhausted` is emitted by the
 * rate-limit code (call it once per exhausted window, not per denied decision).
 */
export async function emitWebhookEvent(
  ctx: EmitContext,
  organizationId: string,
  emitted: EmittedEvent
): Promise<WebhookEvent> {
  const endpoints = await webhookEndpoints.all(ctx.db, organizationId)
  const subscribed = endpoints.filter((endpoint) => endpoint.event_types.includes(emitted.type))
  const event = buildEvent(ctx, organizationId, emitted.type, emitted.data, emitted.id)
  for (const endpoint of subscribed) await enqueueFor(ctx, endpoint, event)
  return event
}

/** `POST /v1/webhooks/{id}/test`: a `webhook.test` event for one endpoint. */
export async function enqueueTestEvent(
  ctx: EmitContext,
  endpoint: WebhookEndpoint
): Promise<WebhookEvent> {
  const event = buildEvent(ctx, endpoint.organization_id, WEBHOOK_TEST_EVENT, {
    endpoint_id: endpoint.id,
    message: 'A test event sent from the Admin API.',
  })
  await enqueueFor(ctx, endpoint, event)
  return event
}

/** The webhook event id that goes with a source's own id (same ULID, `msg_` prefix). */
export function eventIdFor(sourceId: string): string {
  const ulid = sourceId.slice(sourceId.indexOf('_') + 1)
  return `${ID_PREFIXES.webhookEvent}_${ulid}`
}

function buildEvent(
  ctx: EmitContext,
  organizationId: string,
  type: WebhookEvent['type'],
  data: Record<string, unknown>,
  id?: string
): WebhookEvent {
  const now = ctx.clock.now()
  return {
    id: id ?? newId('webhookEvent', now),
    type,
    created_at: now.toISOString(),
    organization_id: organizationId,
    data,
  }
}

async function enqueueFor(ctx: EmitContext, endpoint: WebhookEndpoint, event: WebhookEvent) {
  const createdAt = Date.parse(event.created_at)
  await webhookDeliveries.enqueue(ctx.db, {
    event,
    endpoint_id: endpoint.id,
    // The exact bytes every attempt sends and signs: fixed at enqueue time.
    payload: JSON.stringify(event),
    give_up_at: new Date(createdAt + RETRY_WINDOW_MS).toISOString(),
    expires_at_epoch: epochSeconds(new Date(createdAt + DELIVERY_RETENTION_MS)),
  })
}
