/** Webhooks (contract v1.1 "Webhooks"; docs/webhooks.md). */

/** The event types an endpoint may subscribe to. */
export const WEBHOOK_EVENT_TYPES = [
  'budget.threshold_crossed',
  'budget.suspended',
  'budget.resumed',
  'rate_limit.exhausted',
  'member.deactivated',
  'api_key.revoked',
  'policy.changed',
] as const

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number]

/** Sent by `POST /v1/webhooks/{id}/test` to that endpoint only, whatever it subscribes to. */
export const WEBHOOK_TEST_EVENT = 'webhook.test'

export interface WebhookEndpoint {
  id: string
  object: 'webhook_endpoint'
  organization_id: string
  url: string
  event_types: WebhookEventType[]
  description: string | null
  created_at: string
  updated_at: string
  version: number
}

/** Only in the creating response: the secret is never shown again. */
export type WebhookEndpointWithSecret = WebhookEndpoint & { signing_secret: string }

/** The body every delivery POSTs (Standard Webhooks: its id is the `webhook-id` header). */
export interface WebhookEvent {
  id: string
  type: WebhookEventType | typeof WEBHOOK_TEST_EVENT
  created_at: string
  organization_id: string
  data: Record<string, unknown>
}

/** One try of a delivery. */
export interface WebhookAttempt {
  attempt: number
  attempted_at: string
  /** The receiver's HTTP status; null when no response came (timeout, refused connection). */
  status_code: number | null
  duration_ms: number
  error: string | null
}

/** An event on its way to one endpoint, with every attempt made so far. */
export interface WebhookDelivery {
  /** The event's id (also the `webhook-id` header of every attempt). */
  id: string
  object: 'webhook_delivery'
  endpoint_id: string
  event_type: WebhookEvent['type']
  /** pending: an attempt is due at `next_attempt_at`; failed: retries gave up after 24 h. */
  status: 'pending' | 'succeeded' | 'failed'
  attempts: WebhookAttempt[]
  next_attempt_at: string | null
  created_at: string
  event: WebhookEvent
}
