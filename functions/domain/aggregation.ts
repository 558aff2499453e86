import type { AlertPublisher } from '../lib/alert-bus.js'
import type { Clock } from '../lib/clock.js'
import { newId } from '../lib/ids.js'
import { bucketStart } from '../lib/time-buckets.js'
import type { AggregationSummary, BudgetAlert, UsageEvent } from '../model/index.js'
import { spendLimits } from '../store/budgets.js'
import { type Db, forEachConcurrently } from '../store/db.js'
import {
  eventIdentity,
  type JournalSlot,
  slotName,
  usageEvents,
  usageJournal,
} from '../store/usage-events.js'
import { LeaseLostError, type RoundRecord, usageJobLock } from '../store/usage-job.js'
import {
  parseScopeName,
  scopeName,
  type TotalsDelta,
  totalsKey,
  usageTotals,
} from '../store/usage-totals.js'
import { evaluateBudgets } from './budgets.js'
import type { ServiceContext } from './context.js'
import { rawEventExpiry } from './usage-events.js'

export interface AggregationDeps {
  db: Db
  clock: Clock
  /** Where fired budget alerts are published (EventBridge in AWS); none locally. */
  publisher?: AlertPublisher | undefined
  /** Starts no new round after this long; defaults to RUN_BUDGET_MS (the scheduled run's). */
  runBudgetMs?: number | undefined
}

/** A run holds the job lock this long without renewing it; a dead run is replaced after it. */
export const AGGREGATION_LEASE_MS = 10 * 60_000
/** A run stops writing when less than this is left of its lease (it may be replaced then). */
export const LEASE_MARGIN_MS = 2 * 60_000
/** A run starts no new round after this long (below the Lambda timeout); the next run goes on. */
export const RUN_BUDGET_MS = 4 * 60_000
/**
 * The budget of a run requested over HTTP (`POST /v1/jobs/aggregate`): in AWS it runs in the API
 * function, under API Gateway's 29-second limit, so it leaves a large backlog to the schedule.
 */
export const ON_DEMAND_RUN_BUDGET_MS = 10_000
/** Oldest slots taken per journal shard per round: at most 32 × 4 slots × 500 = 64,000 events. */
const SLOTS_PER_SHARD_PER_ROUND = 4
const TOTALS_CONCURRENCY = 16

/**
 * One aggregation pass — the same function for the EventBridge schedule (Lambda), the local
 * timer and `POST /v1/jobs/aggregate`. It rolls the events waiting in the journal into hourly,
 * daily and monthly totals, then re-evaluates budgets. Design (docs/access-patterns.md, "Usage"):
 *
 * - One run at a time: the job lock has a lease. A run that finds it held returns `skipped`.
 * - Work goes in rounds. A round's slot list is saved on the lock before anything is written,
 *   so a run that dies mid-round is resumed — same slots, same round id — by the next run.
 * - Exactly once: per round, each event id counts only in the first slot that holds it, unless a
 *   counted marker says it was counted elsewhere; the markers are written before the totals.
 *   Each total item remembers the last round that added to it, so a resumed round skips the
 *   items it already added to. Slots are deleted last.
 * - Cost: reading the journal's 32 shards, the new events and their markers, one update per
 *   touched total, and one read per budget scope (touched workspaces and scopes with a limit).
 */
export async function runAggregation(deps: AggregationDeps): Promise<AggregationSummary> {
  const started = deps.clock.now()
  const runId = newId('run', started)
  const lock = await usageJobLock.claim(deps.db, runId, started.getTime(), AGGREGATION_LEASE_MS)
  if (!lock) return summary(runId, started, deps.clock.now(), 'skipped')
  const run = new Run(deps, runId, lock.lease_until)
  try {
    const scopes = new Set(lock.pending_scopes)
    if (lock.round) await run.processRound(lock.round, undefined)
    const budgetMs = deps.runBudgetMs ?? RUN_BUDGET_MS
    while (deps.clock.now().getTime() - started.getTime() < budgetMs) {
      await run.renewLease()
      const slots = await usageJournal.pending(deps.db, SLOTS_PER_SHARD_PER_ROUND)
      if (slots.length === 0) break
      slots.sort((a, b) => compare(a.ref.id, b.ref.id) || a.ref.shard - b.ref.shard)
      const round: RoundRecord = {
        id: `${runId}.${run.rounds + 1}`,
        slots: slots.map((slot) => slot.ref),
      }
      const roundScopes = new Set(
        slots.flatMap((slot) =>
          slot.events.map((event) => scopeName(event.organization_id, event.workspace_id))
        )
      )
      await usageJobLock.startRound(deps.db, runId, round, [...roundScopes])
      for (const scope of roundScopes) scopes.add(scope)
      await run.processRound(round, slots)
    }
    const evaluated = await run.evaluate(scopes)
    return {
      ...summary(runId, started, deps.clock.now(), 'completed'),
      rounds: run.rounds,
      events_aggregated: run.eventsAggregated,
      duplicates_dropped: run.duplicatesDropped,
      workspaces_evaluated: evaluated.workspacesEvaluated,
      alerts: evaluated.alerts,
    }
  } finally {
    await usageJobLock.release(deps.db, runId)
  }
}

class Run {
  rounds = 0
  eventsAggregated = 0
  duplicatesDropped = 0

  constructor(
    private readonly deps: AggregationDeps,
    private readonly runId: string,
    private leaseUntil: number
  ) {}

  async renewLease(): Promise<void> {
    const now = this.deps.clock.now().getTime()
    await usageJobLock.extend(this.deps.db, this.runId, now, AGGREGATION_LEASE_MS)
    this.leaseUntil = now + AGGREGATION_LEASE_MS
  }

  /** Self-fencing: never write when another run may already have taken over. */
  private checkLease(): void {
    if (this.deps.clock.now().getTime() > this.leaseUntil - LEASE_MARGIN_MS) {
      throw new LeaseLostError()
    }
  }

  /**
   * Runs (or resumes) one round; `read` are its slots when the caller has them already. Its
   * budget scopes were recorded on the lock when it started (and, for a resumed round, are
   * among the lock's pending scopes).
   */
  async processRound(round: RoundRecord, read: JournalSlot[] | undefined): Promise<void> {
    const { db } = this.deps
    const slots = read ?? (await usageJournal.get(db, round.slots))
    const byName = new Map(slots.map((slot) => [slotName(slot.ref), slot]))
    // The round record's order decides which copy of an id counts, on every attempt.
    const copies = round.slots.flatMap((ref) => {
      const slot = byName.get(slotName(ref))
      return slot ? slot.events.map((event) => ({ event, slot: slotName(ref) })) : []
    })
    const countedIn = await usageEvents.countedIn(
      db,
      copies.map((copy) => copy.event)
    )
    const winners: UsageEvent[] = []
    const markers: { organization_id: string; id: string; slot: string; expires: number }[] = []
    const chosen = new Set<string>()
    for (const { event, slot } of copies) {
      const identity = eventIdentity(event.organization_id, event.id)
      if (chosen.has(identity)) continue
      const owner = countedIn.get(identity)
      if (owner !== undefined && owner !== slot) continue
      chosen.add(identity)
      winners.push(event)
      if (owner === undefined) {
        markers.push({
          organization_id: event.organization_id,
          id: event.id,
          slot,
          expires: rawEventExpiry(event),
        })
      }
    }

    this.checkLease()
    await usageEvents.markCounted(db, markers)
    this.checkLease()
    await forEachConcurrently(totalsDeltas(winners), TOTALS_CONCURRENCY, async (delta) => {
      await usageTotals.add(db, delta, round.id)
    })
    this.checkLease()
    await usageJournal.remove(
      db,
      slots.map((slot) => slot.ref)
    )
    await usageJobLock.finishRound(db, this.runId)
    this.rounds++
    this.eventsAggregated += winners.length
    this.duplicatesDropped += copies.length - winners.length
  }

  /** Budgets of the scopes touched (now or by an earlier run that died) and of every limit. */
  async evaluate(scopes: Set<string>) {
    const { db, clock, publisher } = this.deps
    const limited = await spendLimits.listAllScopes(db)
    const requested = [...[...scopes].map(parseScopeName), ...limited]
    this.checkLease()
    const ctx: ServiceContext = {
      db,
      clock,
      actor: { type: 'system', id: 'usage-aggregation' },
      requestId: this.runId,
    }
    const result = await evaluateBudgets(ctx, requested, publisher)
    await usageJobLock.clearScopes(db, this.runId, [...scopes])
    return result
  }
}

/** Each counted event adds to its hour, its day (all dimensions), and its month totals. */
export function totalsDeltas(events: readonly UsageEvent[]): TotalsDelta[] {
  const deltas = new Map<string, TotalsDelta>()
  const add = (
    delta: Omit<TotalsDelta, 'input_tokens' | 'output_tokens' | 'requests' | 'cost_micros'>,
    event: UsageEvent
  ) => {
    const key = totalsKey(delta)
    const id = `${key.PK}\n${key.SK}`
    const current = deltas.get(id) ?? {
      ...delta,
      input_tokens: 0,
      output_tokens: 0,
      requests: 0,
      cost_micros: 0,
    }
    current.input_tokens += event.input_tokens
    current.output_tokens += event.output_tokens
    current.requests += event.requests
    current.cost_micros += event.cost_micros
    deltas.set(id, current)
  }
  for (const event of events) {
    const at = new Date(event.timestamp)
    const all = {
      workspace_id: event.workspace_id,
      model: event.model,
      product: event.product,
      api_key_id: event.api_key_id,
      member_id: event.member_id,
    }
    const none = {
      workspace_id: null,
      model: null,
      product: null,
      api_key_id: null,
      member_id: null,
    }
    const organization_id = event.organization_id
    add(
      {
        granularity: 'hour',
        organization_id,
        bucket_start: bucketStart(at, '1h'),
        dimensions: all,
      },
      event
    )
    add(
      { granularity: 'day', organization_id, bucket_start: bucketStart(at, '1d'), dimensions: all },
      event
    )
    const month = bucketStart(at, '1mo')
    add(
      {
        granularity: 'month',
        organization_id,
        bucket_start: month,
        dimensions: { ...none, workspace_id: event.workspace_id },
      },
      event
    )
    add({ granularity: 'month', organization_id, bucket_start: month, dimensions: none }, event)
  }
  return [...deltas.values()]
}

function summary(
  runId: string,
  started: Date,
  finished: Date,
  status: AggregationSummary['status']
): AggregationSummary {
  return {
    run_id: runId,
    object: 'aggregation_run',
    status,
    started_at: started.toISOString(),
    finished_at: finished.toISOString(),
    rounds: 0,
    workspaces_evaluated: 0,
    events_aggregated: 0,
    duplicates_dropped: 0,
    alerts: [] as BudgetAlert[],
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
