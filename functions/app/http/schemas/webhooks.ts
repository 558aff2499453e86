import { z } from '@hono/zod-openapi'
import { WEBHOOK_EVENT_TYPES, WEBHOOK_TEST_EVENT } from '../../../model/webhooks.js'

/** Request and response schemas of webhook endpoints and deliveries (contract v1.1 "Webhooks"). */

export const WebhookEventTypeSchema = z.enum(WEBHOOK_EVENT_TYPES).openapi('WebhookEventType')

const EventTypes = z
  .array(WebhookEventTypeSchema)
  .min(1)
  .max(WEBHOOK_EVENT_TYPES.length * 2)
  .openapi({ description: 'The event types delivered to the endpoint (at least one)' })

const Url = z.string().min(1).max(2048).openapi({
  description:
    'https URL the events are POSTed to (http only to localhost on a local server started with WEBHOOK_ALLOW_LOCAL_HTTP)',
  example: 'https://example.com/webhooks/admin-engine',
})

const Description = z.string().trim().max(2000).nullable()

export const NewWebhookEndpointBody = z
  .object({ url: Url, event_types: EventTypes, description: Description.optional() })
  .strict()

export const WebhookEndpointPatchBody = z
  .object({
    url: Url.optional(),
    event_types: EventTypes.optional(),
    description: Description.optional(),
  })
  .strict()

export const WebhookEndpointSchema = z
  .object({
    id: z.string().openapi({ example: 'whk_01JD4V6S9Y3T2WQ7P1J5KX8N0M' }),
    object: z.literal('webhook_endpoint'),
    organization_id: z.string(),
    url: z.string(),
    event_types: z.array(WebhookEventTypeSchema),
    description: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    version: z.number().int(),
  })
  .openapi('WebhookEndpoint')

export const WebhookEndpointWithSecretSchema = WebhookEndpointSchema.extend({
  signing_secret: z.string().openapi({
    description:
      'Standard Webhooks signing secret (whsec_ + base64), shown only in this response: verify deliveries with it',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  }),
}).openapi('WebhookEndpointWithSecret')

export const WebhookEventSchema = z
  .object({
    id: z.string().openapi({ description: 'Also the webhook-id header', example: 'msg_01JD…' }),
    type: z.union([WebhookEventTypeSchema, z.literal(WEBHOOK_TEST_EVENT)]),
    created_at: z.string(),
    organization_id: z.string(),
    data: z.record(z.string(), z.unknown()),
  })
  .openapi('WebhookEvent')

export const WebhookAttemptSchema = z
  .object({
    attempt: z.number().int(),
    attempted_at: z.string(),
    status_code: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "The receiver's status; null when no response came" }),
    duration_ms: z.number().int(),
    error: z.string().nullable(),
  })
  .openapi('WebhookAttempt')

export const WebhookDeliverySchema = z
  .object({
    id: z.string().openapi({ description: "The event's id" }),
    object: z.literal('webhook_delivery'),
    endpoint_id: z.string(),
    event_type: z.union([WebhookEventTypeSchema, z.literal(WEBHOOK_TEST_EVENT)]),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempts: z.array(WebhookAttemptSchema),
    next_attempt_at: z.string().nullable(),
    created_at: z.string(),
    event: WebhookEventSchema,
  })
  .openapi('WebhookDelivery')

export const WebhookEndpointDeletedSchema = z
  .object({
    object: z.literal('webhook_endpoint.deleted'),
    id: z.string(),
    deleted: z.literal(true),
  })
  .openapi('WebhookEndpointDeleted')
