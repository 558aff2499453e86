import type { ServiceContext } from '../domain/context.js'
import { DAY_MS } from '../lib/clock.js'
import { newUlid } from '../lib/ids.js'
import type { UsageEvent } from '../model/index.js'
import { eventIdentity, usageEvents } from '../store/usage/events.js'
import {
  type IngestionOrganization,
  ingestionFacts,
  readForIngestion,
} from '../store/usage/ingestion-facts.js'
import { slotName, usageJournal } from '../store/usage/journal.js'
import { advanceLiveSpend } from './live-spend.js'
import { exactCost, priceAt } from './prices.js'
import { countIngestedTokens } from './rate-limiter.js'

/** Events older than this are rejected (Stripe's meter-event window, contract: usage events). */
export const LATE_EVENT_DAYS = 35
/** Events further ahead than this are rejected (clock skew allowance). */
export const FUTURE_TOLERANCE_MS = 5 * 60_000
/**
 * Copies of an event expire this long after its timestamp. It is longer than the late window, so
 * an id can never be counted twice: a copy that arrives after the records of its id expired is
 * older than 35 days and rejected for that.
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
 * Accepted events are written to the journal first and as copies (each naming its slot) second,
 * so a crash between the two can only make a retry re-send events the journal already holds —
 * which the aggregation job counts once (docs/access-patterns.md, "Exactly once without
 * transactions").
 */
export async function ingestUsageEvents(
  ctx: ServiceContext,
  inputs: readonly { index: number; event: UsageEventInput }[]
): Promise<IngestionResult> {
  const now = ctx.clock.now()
  const events = inputs.map(({ event }) => event)
  const { organizations, seen } = await readForIngestion(
    ctx.db,
    events,
    uniqueBy(events, (event) => eventIdentity(event.organization_id, event.id)),
    now
  )
  const window = {
    oldest: now.getTime() - LATE_EVENT_DAYS * DAY_MS,
    newest: now.getTime() + FUTURE_TOLERANCE_MS,
  }
  let verdicts = evaluate(inputs, organizations, seen, window)
  // Never a rejection on a cached fact: when a cached price or API key rejects an event, the
  // organization's facts are read again from the table and the batch judged again (unknown and
  // archived things are never cached, so every other rejection was read by this request).
  const byIndex = new Map(inputs.map(({ index, event }) => [index, event]))
  const recheck = verdicts.rejected
    .filter(({ error }) => CACHED_REJECTIONS.has(error.code))
    .map(({ index }) => byIndex.get(index)!)
    .filter((event) => organizations.get(event.organization_id)?.cached)
  if (recheck.length > 0) {
    for (const [id, fresher] of await ingestionFacts(ctx.db, recheck, { fresh: true })) {
      const organization = organizations.get(id)!
      organization.priceEntries = fresher.priceEntries
      for (const [k, v] of fresher.workspaces) organization.workspaces.set(k, v)
      for (const [k, v] of fresher.apiKeys) organization.apiKeys.set(k, v)
      for (const member of fresher.members) organization.members.add(member)
    }
    verdicts = evaluate(inputs, organizations, seen, window)
  }
  const { rejected, accepted, duplicates } = verdicts

  if (accepted.length > 0) {
    const slots = await usageJournal.append(ctx.db, accepted, now, () => newUlid(now))
    await usageEvents.putCopies(
      ctx.db,
      slots.flatMap(({ ref, events }) => events.map((event) => ({ event, slot: slotName(ref) }))),
      now,
      rawEventExpiry
    )
    // After the copies (the "seen" records): a retried request adds nothing twice.
    // The limits were read (or cached at the revision read) with the facts.
    const orgs = [...organizations.values()]
    const spendLimits = new Map(orgs.flatMap((o) => [...o.spendLimits]))
    const rateLimits = new Map(orgs.flatMap((o) => [...o.rateLimits]))
    await Promise.all([
      advanceLiveSpend(ctx, accepted, spendLimits),
      countIngestedTokens(ctx.db, accepted, now, rateLimits),
    ])
  }
  return { accepted: accepted.length, duplicates, rejected }
}

/** Judges every event of the batch: rejected, duplicate (seen or earlier in it) or accepted. */
function evaluate(
  inputs: readonly { index: number; event: UsageEventInput }[],
  organizations: ReadonlyMap<string, IngestionOrganization>,
  seen: ReadonlySet<string>,
  window: { oldest: number; newest: number }
) {
  const rejected: EventRejection[] = []
  const accepted: UsageEvent[] = []
  const inBatch = new Set<string>()
  let duplicates = 0
  for (const { index, event } of inputs) {
    const verdict = judge(event, organizations.get(event.organization_id), window)
    if ('rejection' in verdict) {
      const { code, message, field } = verdict.rejection
      rejected.push({ index, error: { code, message, param: `events.${index}.${field}` } })
      continue
    }
    const { at, price } = verdict
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

  return { rejected, accepted, duplicates }
}

/** Rejections a cached fact can cause (prices, an API key's workspace). */
const CACHED_REJECTIONS = new Set(['unknown_model', 'api_key_workspace_mismatch'])

type Verdict =
  | { rejection: { code: string; message: string; field: string } }
  | { at: Date; price: NonNullable<ReturnType<typeof priceAt>> }

/** Whether an event may be accepted given its organization's facts, and at which price. */
function judge(
  event: UsageEventInput,
  organization: IngestionOrganization | undefined,
  window: { oldest: number; newest: number }
): Verdict {
  const reject = (code: string, message: string, field: string): Verdict => ({
    rejection: { code, message, field },
  })
  if (!organization) {
    return reject(
      'unknown_organization',
      `No organization with id '${event.organization_id}'.`,
      'organization_id'
    )
  }
  const workspace = organization.workspaces.get(event.workspace_id)
  if (!workspace) {
    return reject(
      'unknown_workspace',
      `No workspace with id '${event.workspace_id}' in organization '${event.organization_id}'.`,
      'workspace_id'
    )
  }
  if (workspace.archived) {
    return reject(
      'workspace_archived',
      `The workspace '${event.workspace_id}' is archived; nothing can be used in it.`,
      'workspace_id'
    )
  }
  if (event.api_key_id) {
    const key = organization.apiKeys.get(event.api_key_id)
    if (!key) {
      return reject(
        'unknown_api_key',
        `No API key with id '${event.api_key_id}' in organization '${event.organization_id}'.`,
        'api_key_id'
      )
    }
    if (key.workspace_id !== event.workspace_id) {
      return reject(
        'api_key_workspace_mismatch',
        `The API key '${event.api_key_id}' belongs to workspace '${key.workspace_id}', not '${event.workspace_id}'.`,
        'api_key_id'
      )
    }
  }
  if (event.member_id && !organization.members.has(event.member_id)) {
    return reject(
      'unknown_member',
      `No member with id '${event.member_id}' in organization '${event.organization_id}'.`,
      'member_id'
    )
  }
  const at = new Date(event.timestamp)
  if (at.getTime() < window.oldest) {
    return reject(
      'timestamp_too_old',
      `The timestamp is more than ${LATE_EVENT_DAYS} days in the past.`,
      'timestamp'
    )
  }
  if (at.getTime() > window.newest) {
    return reject(
      'timestamp_in_future',
      'The timestamp is more than 5 minutes in the future.',
      'timestamp'
    )
  }
  const price = priceAt(organization.priceEntries, event.model, at)
  if (!price) {
    return reject(
      'unknown_model',
      `No price for model '${event.model}' at ${at.toISOString()}; add one with PUT /v1/prices.`,
      'model'
    )
  }
  return { at, price }
}

/** An exact cost as the event's stored fields (what ingestion fixes on each accepted event). */
export function exactCostFields(cost: { micros: bigint; subMicros: bigint }) {
  return { cost_micros: Number(cost.micros), cost_sub_micros: Number(cost.subMicros) }
}

function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...new Map(items.map((item) => [key(item), item])).values()]
}
