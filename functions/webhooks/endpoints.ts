import { randomBytes } from 'node:crypto'
import { recordAudit } from '../domain/audit.js'
import type { ServiceContext } from '../domain/context.js'
import { updateVersioned } from '../domain/versioning.js'
import { conflict, notFound, preconditionFailed, staleVersion } from '../lib/errors.js'
import { newId } from '../lib/ids.js'
import type {
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEndpointWithSecret,
  WebhookEventType,
} from '../model/webhooks.js'
import type { PageRequest } from '../store/pagination.js'
import { webhookDeliveries, webhookEndpoints } from '../store/webhooks.js'
import { enqueueTestEvent } from './events.js'
import { checkWebhookUrl, type WebhookUrlPolicy } from './url.js'

/** Every event is fanned out to all of an organization's endpoints: keep that bounded. */
export const MAX_WEBHOOK_ENDPOINTS = 20

export interface NewWebhookEndpoint {
  url: string
  event_types: WebhookEventType[]
  description?: string | null | undefined
}

export type WebhookEndpointPatch = Partial<NewWebhookEndpoint>

/** Standard Webhooks secrets: `whsec_` and base64 of 32 random bytes (the library's format). */
function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

function unique(types: WebhookEventType[]): WebhookEventType[] {
  return [...new Set(types)]
}

export async function createWebhookEndpoint(
  ctx: ServiceContext,
  organizationId: string,
  input: NewWebhookEndpoint,
  policy: WebhookUrlPolicy
): Promise<WebhookEndpointWithSecret> {
  const url = checkWebhookUrl(input.url, policy)
  const existing = await webhookEndpoints.all(ctx.db, organizationId)
  if (existing.length >= MAX_WEBHOOK_ENDPOINTS) {
    throw conflict(
      `An organization has at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints; delete one first.`
    )
  }
  const now = ctx.clock.now().toISOString()
  const endpoint: WebhookEndpoint = {
    id: newId('webhookEndpoint', ctx.clock.now()),
    object: 'webhook_endpoint',
    organization_id: organizationId,
    url,
    event_types: unique(input.event_types),
    description: input.description ?? null,
    created_at: now,
    updated_at: now,
    version: 1,
  }
  const signingSecret = newSigningSecret()
  await webhookEndpoints.create(ctx.db, endpoint, signingSecret)
  // The record without its secret: the audit log never holds it.
  await recordAudit(ctx, organizationId, {
    event_type: 'webhook.created',
    target: { type: 'webhook_endpoint', id: endpoint.id },
    after: endpoint,
  })
  return { ...endpoint, signing_secret: signingSecret }
}

export function listWebhookEndpoints(
  ctx: ServiceContext,
  organizationId: string,
  page: PageRequest
) {
  return webhookEndpoints.list(ctx.db, organizationId, page)
}

export async function getWebhookEndpoint(
  ctx: ServiceContext,
  organizationId: string,
  id: string
): Promise<WebhookEndpoint> {
  const endpoint = await webhookEndpoints.get(ctx.db, organizationId, id)
  if (!endpoint) throw notFound('webhook endpoint', id, 'id')
  return endpoint
}

export async function updateWebhookEndpoint(
  ctx: ServiceContext,
  organizationId: string,
  id: string,
  patch: WebhookEndpointPatch,
  policy: WebhookUrlPolicy,
  expectedVersion?: number
): Promise<WebhookEndpoint> {
  const url = patch.url === undefined ? undefined : checkWebhookUrl(patch.url, policy)
  const result = await updateVersioned({
    load: () => webhookEndpoints.get(ctx.db, organizationId, id),
    missing: () => notFound('webhook endpoint', id, 'id'),
    expectedVersion,
    apply: (current) => {
      const next: WebhookEndpoint = {
        ...current,
        ...(url !== undefined ? { url } : {}),
        ...(patch.event_types !== undefined ? { event_types: unique(patch.event_types) } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
      }
      const same =
        next.url === current.url &&
        next.description === current.description &&
        next.event_types.join() === current.event_types.join()
      return same ? undefined : { ...next, updated_at: ctx.clock.now().toISOString() }
    },
    save: (next, version) => webhookEndpoints.save(ctx.db, next, version),
  })
  if (result.changed) {
    await recordAudit(ctx, organizationId, {
      event_type: 'webhook.updated',
      target: { type: 'webhook_endpoint', id },
      before: result.before,
      after: result.after,
    })
  }
  return result.after
}

/**
 * Deletes an endpoint. Its pending deliveries are not sent any more (the deliverer finds the
 * endpoint gone and ends them); the delivery records expire with the table's TTL.
 */
export async function deleteWebhookEndpoint(
  ctx: ServiceContext,
  organizationId: string,
  id: string,
  expectedVersion?: number
): Promise<{ object: 'webhook_endpoint.deleted'; id: string; deleted: true }> {
  const existing = await getWebhookEndpoint(ctx, organizationId, id)
  if (expectedVersion !== undefined && existing.version !== expectedVersion) {
    throw staleVersion('webhook endpoint', existing.version, expectedVersion)
  }
  if (!(await webhookEndpoints.remove(ctx.db, organizationId, id, expectedVersion))) {
    if (expectedVersion !== undefined) {
      throw preconditionFailed(
        'The webhook endpoint was changed by another request; read it again.'
      )
    }
    throw notFound('webhook endpoint', id, 'id')
  }
  await recordAudit(ctx, organizationId, {
    event_type: 'webhook.deleted',
    target: { type: 'webhook_endpoint', id },
    before: existing,
  })
  return { object: 'webhook_endpoint.deleted', id, deleted: true }
}

export async function listWebhookDeliveries(
  ctx: ServiceContext,
  organizationId: string,
  endpointId: string,
  page: PageRequest
) {
  await getWebhookEndpoint(ctx, organizationId, endpointId)
  return webhookDeliveries.list(ctx.db, organizationId, endpointId, page)
}

/** Queues a `webhook.test` event for the endpoint; the deliverer sends it like any other. */
export async function sendTestEvent(
  ctx: ServiceContext,
  organizationId: string,
  endpointId: string
): Promise<WebhookDelivery> {
  const endpoint = await getWebhookEndpoint(ctx, organizationId, endpointId)
  const event = await enqueueTestEvent(ctx, endpoint)
  const delivery = await webhookDeliveries.get(ctx.db, organizationId, endpoint.id, event.id)
  if (!delivery) throw new Error(`webhook delivery ${event.id} vanished`)
  return delivery
}
