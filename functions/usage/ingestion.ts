import type { ServiceContext } from '../domain/context.js'
import { DAY_MS } from '../lib/clock.js'
import { newUlid } from '../lib/ids.js'
import type { UsageEvent } from '../model/index.js'
import { eventIdentity, usageEvents } from '../store/usage/events.js'
import { ingestionFacts } from '../store/usage/ingestion-facts.js'
import { usageJournal } from '../store/usage/journal.js'
import { advanceLiveSpend } from './live-spend.js'
import { exactCost, priceAt } from './prices.js'
import { countIngestedTokens } from './rate-limiter.js'

/** Events older than this are rejected (Stripe's meter-event window, contract: usage events). */
export const LATE_EVENT_DAYS = 35
/** Events further ahead than this are rejected (clock skew allowance). */
export const FUTURE_TOLERANCE_MS = 5 * 60_000
/**
 * Raw events and their counted markers expire this long after the event's timestamp. It is
 * longer than the late window, so an id can never be counted twice: a copy that arrives after its
 * records expired is older than 35 days and rejected for that.
 */
export const RAW_EVENT_RETENTION_DAYS = 45

/** An event that passed the shape check (the route's schema). */
export interface UsageEventInput {
  id: string
  organization_id: string
  workspace_id: string
  timestamp: string
  product: string
  model: string
  api_key_id?: string | null | undefined
  member_id?: string | null | undefined
  input_tokens?: number | undefined
  output_tokens?: number | undefined
  requests?: number | undefined
}

export interface EventRejection {
  index: number
  error: { code: string; message: string; param: string | null }
}

export interface IngestionResult {
  accepted: number
  duplicates: number
  rejected: EventRejection[]
}

export function rawEventExpiry(event: Pick<UsageEvent, 'timestamp'>): number {
  return Math.ceil((Date.parse(event.timestamp) + RAW_EVENT_RETENTION_DAYS * DAY_MS) / 1000)
}

/**
 * Ingests a batch. Each event is judged on its own: an unknown organization or workspace, an
 * archived workspace, an `api_key_id` that is no API key of the organization or belongs to
 * another workspace than the event's (revoked and expired keys count: their usage may arrive
 * late), a `member_id` that is no member of the organization (removed ones included), a
 * timestamp outside [now − 35 days, now + 5 minutes] or a model without a price rejects it; an id
 * seen before for its organization (or earlier in the batch) is a duplicate; the rest are
 * accepted, their cost fixed at the price effective at their timestamp.
 *
 * Accepted events are written to the journal first and as raw events second, so a crash between
 * the two can only make a retry re-send events the journal already holds — which the aggregation
 * job counts once (docs/access-patterns.md, "Usage: exactly once").
 */
export async function ingestUsageEvents(
  ctx: ServiceContext,
  inputs: readonly { index: number; event: UsageEventInput }[]
): Promise<IngestionResult> {
  const now = ctx.clock.now()
  const [organizations, seen] = await Promise.all([
    ingestionFacts(
      ctx.db,
      inputs.map(({ event }) => event)
    ),
    usageEvents.seen(
      ctx.db,
      uniqueBy(
        inputs.map(({ event }) => event),
        (event) => eventIdentity(event.organization_id, event.id)
      ),
      now
    ),
  ])

  const rejected: EventRejection[] = []
  const accepted: UsageEvent[] = []
  const inBatch = new Set<string>()
  let duplicates = 0
  const oldest = now.getTime() - LATE_EVENT_DAYS * DAY_MS
  const newest = now.getTime() + FUTURE_TOLERANCE_MS
  for (const { index, event } of inputs) {
    const reject = (code: string, message: string, field: string) =>
      rejected.push({ index, error: { code, message, param: `events.${index}.${field}` } })
    const organization = organizations.get(event.organization_id)
    if (!organization) {
      reject(
        'unknown_organization',
        `No organization with id '${event.organization_id}'.`,
        'organization_id'
      )
      continue
    }
    const workspace = organization.workspaces.get(event.workspace_id)
    if (!workspace) {
      reject(
        'unknown_workspace',
        `No workspace with id '${event.workspace_id}' in organization '${event.organization_id}'.`,
        'workspace_id'
      )
      continue
    }
    if (workspace.archived) {
      reject(
        'workspace_archived',
        `The workspace '${event.workspace_id}' is archived; nothing can be used in it.`,
        'workspace_id'
      )
      continue
    }
    if (event.api_key_id) {
      const key = organization.apiKeys.get(event.api_key_id)
      if (!key) {
        reject(
          'unknown_api_key',
          `No API key with id '${event.api_key_id}' in organization '${event.organization_id}'.`,
          'api_key_id'
        )
        continue
      }
      if (key.workspace_id !== event.workspace_id) {
        reject(
          'api_key_workspace_mismatch',
          `The API key '${event.api_key_id}' belongs to workspace '${key.workspace_id}', not '${event.workspace_id}'.`,
          'api_key_id'
        )
        continue
      }
    }
    if (event.member_id && !organization.members.has(event.member_id)) {
      reject(
        'unknown_member',
        `No member with id '${event.member_id}' in organization '${event.organization_id}'.`,
        'member_id'
      )
      continue
    }
    const at = new Date(event.timestamp)
    if (at.getTime() < oldest) {
      reject(
        'timestamp_too_old',
        `The timestamp is more than ${LATE_EVENT_DAYS} days in the past.`,
        'timestamp'
      )
      continue
    }
    if (at.getTime() > newest) {
      reject(
        'timestamp_in_future',
        'The timestamp is more than 5 minutes in the future.',
        'timestamp'
      )
      continue
    }
    const price = priceAt(organization.priceEntries, event.model, at)
    if (!price) {
      reject(
        'unknown_model',
        `No price for model '${event.model}' at ${at.toISOString()}; add one with PUT /v1/prices.`,
        'model'
      )
      continue
    }
    const identity = eventIdentity(event.organization_id, event.id)
    if (seen.has(identity) || inBatch.has(identity)) {
      duplicates++
      continue
    }
    inBatch.add(identity)
    const usage = {
      input_tokens: event.input_tokens ?? 0,
      output_tokens: event.output_tokens ?? 0,
      requests: event.requests ?? 1,
    }
    accepted.push({
      id: event.id,
      organization_id: event.organization_id,
      workspace_id: event.workspace_id,
      timestamp: at.toISOString(),
      product: event.product,
      model: event.model,
      api_key_id: event.api_key_id ?? null,
      member_id: event.member_id ?? null,
      ...usage,
      // Exact, not rounded: totals add the parts and reports round once per figure.
      ...exactCostFields(exactCost(price, usage)),
    })
  }

  if (accepted.length > 0) {
    await usageJournal.append(ctx.db, accepted, now, () => newUlid(now))
    await usageEvents.putRaw(ctx.db, accepted, now, rawEventExpiry)
    // After the raw events (the "seen" markers): a retried request adds nothing twice.
    await Promise.all([advanceLiveSpend(ctx, accepted), countIngestedTokens(ctx.db, accepted, now)])
  }
  return { accepted: accepted.length, duplicates, rejected }
}

function exactCostFields(cost: { micros: bigint; subMicros: bigint }) {
  return { cost_micros: Number(cost.micros), cost_sub_micros: Number(cost.subMicros) }
}

function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...new Map(items.map((item) => [key(item), item])).values()]
}
