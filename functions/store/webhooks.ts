import { createHash } from 'node:crypto'
import type {
  WebhookAttempt,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEvent,
} from '../model/webhooks.js'
import { Collection } from './collection.js'
import { ConditionFailedError, type Db, type Item, stripKeys } from './db.js'
import { keys } from './keys.js'
import { type Page, type PageRequest, paginate } from './pagination.js'

interface EndpointInternal extends Item {
  /** Kept as issued (`whsec_…`): the deliverer signs with it (docs/webhooks.md, "Secrets"). */
  signing_secret: string
}

const endpointCollection = new Collection<WebhookEndpoint, EndpointInternal>(
  'webhooks',
  keys.webhookEndpoint,
  (orgId) => keys.organization(orgId).PK,
  keys.webhookEndpointPrefix,
  ['signing_secret']
)

/**
 * Webhook endpoints: `ORG#o` / `WHK#<id>`, a bounded collection (the emitter reads all of them
 * for every event of the organization).
 */
export const webhookEndpoints = {
  create(db: Db, endpoint: WebhookEndpoint, signingSecret: string): Promise<void> {
    return endpointCollection.create(db, endpoint.organization_id, endpoint, {
      signing_secret: signingSecret,
    })
  },
  get(db: Db, orgId: string, id: string) {
    return endpointCollection.get(db, orgId, id)
  },
  getWithSecret(db: Db, orgId: string, id: string) {
    return endpointCollection.getWithInternal(db, orgId, id)
  },
  list(db: Db, orgId: string, page: PageRequest): Promise<Page<WebhookEndpoint>> {
    return endpointCollection.list(db, orgId, page)
  },
  all(db: Db, orgId: string): Promise<WebhookEndpoint[]> {
    return endpointCollection.all(db, orgId)
  },
  save(db: Db, endpoint: WebhookEndpoint, expectedVersion: number): Promise<WebhookEndpoint> {
    return endpointCollection.save(db, endpoint.organization_id, endpoint, expectedVersion)
  },
  /** Deletes the endpoint if it is still at `expectedVersion` (when given); false if not. */
  async remove(db: Db, orgId: string, id: string, expectedVersion?: number): Promise<boolean> {
    try {
      await db.delete(
        keys.webhookEndpoint(orgId, id),
        expectedVersion === undefined
          ? { expression: 'attribute_exists(PK)' }
          : {
              expression: 'attribute_exists(PK) AND #version = :v',
              names: { '#version': 'version' },
              values: { ':v': expectedVersion },
            }
      )
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },
}

/** Deliveries waiting for an attempt are spread over this many GSI1 partitions. */
export const DUE_SHARDS = 4

function dueShard(endpointId: string, eventId: string): number {
  return createHash('sha256').update(`${endpointId}/${eventId}`).digest()[0]! % DUE_SHARDS
}

/** GSI1SK of a pending delivery: its due time first, so a range read finds what is due. */
function dueSortKey(nextAttemptAt: string, orgId: string, endpointId: string, eventId: string) {
  return `${nextAttemptAt}#${orgId}#${endpointId}#${eventId}`
}

interface DeliveryItem extends Item {
  organization_id: string
  endpoint_id: string
  event_id: string
  event_type: WebhookEvent['type']
  /** The exact body every attempt sends (and signs). */
  payload: string
  status: WebhookDelivery['status']
  attempts: WebhookAttempt[]
  attempt_count: number
  next_attempt_at: string | null
  created_at: string
  /** After this, a failed attempt is the last one. */
  give_up_at: string
  lease_owner?: string
  lease_until?: number
}

/** A delivery as the deliverer sees it: where it goes and what it sends. */
export interface DueDelivery {
  organization_id: string
  endpoint_id: string
  event_id: string
  payload: string
  attempt_count: number
  created_at: string
  give_up_at: string
}

function toDelivery(item: Item): WebhookDelivery {
  const stored = stripKeys<DeliveryItem>(item)
  return {
    id: stored.event_id,
    object: 'webhook_delivery',
    endpoint_id: stored.endpoint_id,
    event_type: stored.event_type,
    status: stored.status,
    attempts: stored.attempts,
    next_attempt_at: stored.next_attempt_at,
    created_at: stored.created_at,
    event: JSON.parse(stored.payload) as WebhookEvent,
  }
}

function toDue(item: Item): DueDelivery {
  const stored = item as DeliveryItem
  return {
    organization_id: stored.organization_id,
    endpoint_id: stored.endpoint_id,
    event_id: stored.event_id,
    payload: stored.payload,
    attempt_count: stored.attempt_count,
    created_at: stored.created_at,
    give_up_at: stored.give_up_at,
  }
}

/**
 * The outbox. A delivery is `WHD#<org>#<endpoint>` / `D#<event id>`: its conditional creation
 * makes an event enqueue once per endpoint however often its source retries. While pending it
 * is also under GSI1 `WHDUE#<shard>` with GSI1SK `<next attempt time>#…`, a sparse index of
 * what is due; a finished delivery leaves it. An attempt is claimed with a lease (a conditional
 * write on the attempt number), so two deliverers never send the same attempt.
 */
export const webhookDeliveries = {
  /** Enqueues; false when this event is already queued for this endpoint. */
  async enqueue(
    db: Db,
    delivery: {
      event: WebhookEvent
      endpoint_id: string
      payload: string
      give_up_at: string
      expires_at_epoch: number
    }
  ): Promise<boolean> {
    const { event, endpoint_id } = delivery
    const now = event.created_at
    const item: DeliveryItem & Item = {
      ...keys.webhookDelivery(event.organization_id, endpoint_id, event.id),
      GSI1PK: keys.webhookDueShard(dueShard(endpoint_id, event.id)),
      GSI1SK: dueSortKey(now, event.organization_id, endpoint_id, event.id),
      organization_id: event.organization_id,
      endpoint_id,
      event_id: event.id,
      event_type: event.type,
      payload: delivery.payload,
      status: 'pending',
      attempts: [],
      attempt_count: 0,
      next_attempt_at: now,
      created_at: now,
      give_up_at: delivery.give_up_at,
      expires_at_epoch: delivery.expires_at_epoch,
    }
    try {
      await db.create(item)
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },

  async get(
    db: Db,
    orgId: string,
    endpointId: string,
    eventId: string
  ): Promise<WebhookDelivery | undefined> {
    const item = await db.get(keys.webhookDelivery(orgId, endpointId, eventId))
    return item ? toDelivery(item) : undefined
  },

  /** An endpoint's deliveries, newest first. */
  list(db: Db, orgId: string, endpointId: string, page: PageRequest) {
    const partition = keys.webhookDeliveryPartition(orgId, endpointId)
    return paginate(
      db,
      `webhook-deliveries:${orgId}:${endpointId}`,
      { partition, sort: { prefix: keys.webhookDeliveryPrefix }, forward: false },
      page,
      toDelivery
    )
  },

  /** Deliveries due at `now` (GSI1, eventually consistent: the claim re-checks). */
  async due(db: Db, now: Date, perShard: number): Promise<DueDelivery[]> {
    const until = `${now.toISOString()}#~`
    const pages = await Promise.all(
      Array.from({ length: DUE_SHARDS }, (_, shard) =>
        db.query({
          index: 'GSI1',
          partition: keys.webhookDueShard(shard),
          sort: { between: ['0', until] },
          limit: perShard,
        })
      )
    )
    return pages.flatMap((page) => page.items.map(toDue))
  },

  /**
   * Takes the next attempt of a delivery for `leaseMs`: only if it is still pending, due, at
   * the attempt number the caller saw, and no other deliverer holds an unexpired lease.
   */
  async claim(
    db: Db,
    due: DueDelivery,
    owner: string,
    now: Date,
    leaseMs: number
  ): Promise<DueDelivery | undefined> {
    try {
      const item = await db.update(
        keys.webhookDelivery(due.organization_id, due.endpoint_id, due.event_id),
        {
          expression: 'SET lease_owner = :owner, lease_until = :until',
          values: { ':owner': owner, ':until': now.getTime() + leaseMs },
        },
        {
          expression:
            '#status = :pending AND attempt_count = :count AND next_attempt_at <= :now AND ' +
            '(attribute_not_exists(lease_until) OR lease_until <= :nowMs)',
          names: { '#status': 'status' },
          values: {
            ':pending': 'pending',
            ':count': due.attempt_count,
            ':now': now.toISOString(),
            ':nowMs': now.getTime(),
          },
        },
        true
      )
      return item ? toDue(item) : undefined
    } catch (error) {
      if (error instanceof ConditionFailedError) return undefined
      throw error
    }
  },

  /**
   * Records a claimed attempt and what comes next: another attempt at `nextAttemptAt`, or the
   * final status. Only the lease holder of that attempt may (false otherwise: its lease ran
   * out and another deliverer took the attempt over).
   */
  async recordAttempt(
    db: Db,
    due: DueDelivery,
    owner: string,
    attempt: WebhookAttempt,
    outcome: { status: 'pending'; nextAttemptAt: string } | { status: 'succeeded' | 'failed' }
  ): Promise<boolean> {
    const values: Record<string, unknown> = {
      ':attempt': [attempt],
      ':one': 1,
      ':status': outcome.status,
      ':owner': owner,
      ':count': due.attempt_count,
    }
    let expression =
      'SET attempts = list_append(attempts, :attempt), attempt_count = attempt_count + :one, ' +
      '#status = :status, next_attempt_at = :next'
    if (outcome.status === 'pending') {
      values[':next'] = outcome.nextAttemptAt
      values[':gsk'] = dueSortKey(
        outcome.nextAttemptAt,
        due.organization_id,
        due.endpoint_id,
        due.event_id
      )
      expression += ', GSI1SK = :gsk REMOVE lease_owner, lease_until'
    } else {
      values[':next'] = null
      expression += ' REMOVE lease_owner, lease_until, GSI1PK, GSI1SK'
    }
    try {
      await db.update(
        keys.webhookDelivery(due.organization_id, due.endpoint_id, due.event_id),
        { expression, names: { '#status': 'status' }, values },
        { expression: 'lease_owner = :owner AND attempt_count = :count' }
      )
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },

  /** Ends a pending delivery whose endpoint is gone (no attempt is made). */
  async abandon(db: Db, due: DueDelivery, owner: string): Promise<void> {
    try {
      await db.update(
        keys.webhookDelivery(due.organization_id, due.endpoint_id, due.event_id),
        {
          expression:
            'SET #status = :failed, next_attempt_at = :null REMOVE lease_owner, lease_until, GSI1PK, GSI1SK',
          names: { '#status': 'status' },
          values: { ':failed': 'failed', ':null': null },
        },
        { expression: 'lease_owner = :owner', values: { ':owner': owner } }
      )
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error
    }
  },
}
