import type { ServiceContext } from '../domain/context.js'
import type { AlertPublisher } from '../lib/alert-bus.js'
import type { Clock } from '../lib/clock.js'
import { newId } from '../lib/ids.js'
import type { AggregationSummary, BudgetAlert, UsageEvent } from '../model/index.js'
import { type Db, forEachConcurrently } from '../store/db.js'
import { RetryingDb } from '../store/retrying-db.js'
import { spendLimits } from '../store/usage/budgets.js'
import { eventIdentity, usageEvents } from '../store/usage/events.js'
import { FencedDb } from '../store/usage/fenced-db.js'
import { LeaseLostError, type RoundRecord, usageJobLock } from '../store/usage/job-lock.js'
import { type JournalSlot, slotName, usageJournal } from '../store/usage/journal.js'
import { mayBeLegacy, usageLayout } from '../store/usage/layout.js'
import { liveSpend } from '../store/usage/live-spend.js'
import { scopeName, type UsageScope } from '../store/usage/scope.js'
import { usageTotals } from '../store/usage/totals.js'
import { evaluateBudgets } from './budgets.js'
import { rawEventExpiry } from './ingestion.js'
import { costsByOrganizationMonth, readsLiveSpend } from './live-spend.js'
import { totalsDeltas } from './totals.js'

export interface AggregationDeps {
  db: Db
  clock: Clock
  /** Where fired budget alerts are published (EventBridge in AWS); none locally. */
  publisher?: AlertPublisher | undefined
  /** Starts no new round after this long; defaults to RUN_BUDGET_MS (the scheduled run's). */
  runBudgetMs?: number | undefined
}

/**
 * A run holds the job lock this long after its last renewal: a run that died is replaced at most
 * this long after its last heartbeat (issue: within 60 s, not after a 10-minute freeze).
 */
export const AGGREGATION_LEASE_MS = 30_000
/** A live run renews its lease this often (checked before each write, and on a timer). */
export const HEARTBEAT_MS = 10_000
/**
 * A run makes no write call with less than this left of the lease it can prove (its last
 * successful renewal): more than one DynamoDB call takes, with the SDK's retries.
 */
export const LEASE_MARGIN_MS = 10_000
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
 * - One run at a time: the job lock has a 30-second lease, renewed while the run works, so a
 *   dead run is replaced within 30 s. A run that finds it held returns `skipped`. A run writes
 *   only while it can prove its lease (FencedDb); late writes are refused by the totals' guard.
 * - Work goes in rounds. A round's slot list is saved on the lock before anything is written,
 *   so a run that dies mid-round is resumed — same slots, same round id — by the next run.
 * - Exactly once: per round, each event id counts only in the first slot that holds it, unless
 *   a copy of it names a slot that has left the journal (counted by an earlier round). A winner
 *   whose own copy is missing (its request died) gets it before the slots are deleted. Each
 *   total item remembers the last round that added to it and takes only larger round ids, so a
 *   resumed round skips the items it already added to. Slots are deleted last.
 * - Cost: reading the journal's 32 shards, the copies of the new events (by range, costing by
 *   size), one update per touched total, and one read per budget scope (touched workspaces and
 *   scopes with a limit).
 */
export async function runAggregation(deps: AggregationDeps): Promise<AggregationSummary> {
  const started = deps.clock.now()
  const runId = newId('run', started)
  // Every call of a run is safe to repeat, so one the store throttled is tried again at once
  // instead of failing the whole run (which the next run would have to resume).
  const store = new RetryingDb(deps.db)
  const claim = await usageJobLock.claim(store, runId, started.getTime(), AGGREGATION_LEASE_MS)
  if ('held' in claim) {
    return {
      ...summary(runId, started, deps.clock.now(), 'skipped'),
      lock_held_until: new Date(claim.held.lease_until).toISOString(),
    }
  }
  const { lock } = claim
  const run = new Run(deps, store, runId, lock.epoch, started.getTime() + AGGREGATION_LEASE_MS)
  // Real time, not the clock: a long round whose calls are slow still renews the lease.
  const heartbeat = setInterval(() => void run.renewLease().catch(() => {}), HEARTBEAT_MS)
  heartbeat.unref?.()
  try {
    const scopes = byName(lock.pending_scopes)
    if (lock.round) await run.processRound(lock.round, undefined)
    const budgetMs = deps.runBudgetMs ?? RUN_BUDGET_MS
    let drained = false
    while (deps.clock.now().getTime() - started.getTime() < budgetMs) {
      const slots = await usageJournal.pending(store, SLOTS_PER_SHARD_PER_ROUND)
      if (slots.length === 0) {
        drained = true
        break
      }
      slots.sort((a, b) => compare(a.ref.id, b.ref.id) || a.ref.shard - b.ref.shard)
      const round: RoundRecord = { id: run.nextRoundId(), slots: slots.map((slot) => slot.ref) }
      const roundScopes = byName(slots.flatMap((slot) => slot.events))
      await run.fence()
      await usageJobLock.startRound(store, runId, round, [...roundScopes.values()])
      for (const [name, scope] of roundScopes) scopes.set(name, scope)
      await run.processRound(round, slots)
    }
    const evaluated = await run.evaluate(scopes)
    const finished = deps.clock.now()
    if (drained) {
      // Reports' `as_of`: only a run that left nothing behind says how fresh the totals are.
      await run.fence()
      await usageJobLock.recordCompleted(store, runId, finished.toISOString())
    }
    return {
      ...summary(runId, started, finished, 'completed'),
      rounds: run.rounds,
      events_aggregated: run.eventsAggregated,
      duplicates_dropped: run.duplicatesDropped,
      workspaces_evaluated: evaluated.workspacesEvaluated,
      alerts: evaluated.alerts,
    }
  } finally {
    clearInterval(heartbeat)
    await usageJobLock.release(store, runId)
  }
}

class Run {
  rounds = 0
  eventsAggregated = 0
  duplicatesDropped = 0
  /** Every write of the rounds and of the budget evaluation goes through the fence. */
  private readonly db: Db
  private lost = false
  private renewedAt: number
  private renewing: Promise<void> | undefined

  constructor(
    private readonly deps: AggregationDeps,
    /** The job lock's store (the table, with retries). */
    private readonly store: Db,
    private readonly runId: string,
    private readonly epoch: number,
    /** The end of the lease this run can prove: set from the time a renewal was sent. */
    private leaseUntil: number
  ) {
    this.renewedAt = leaseUntil - AGGREGATION_LEASE_MS
    this.db = new FencedDb(store, () => this.fence())
  }

  /**
   * Ids grow with every round of every run: the lock's epoch first (a later holder has a larger
   * one, whatever the clocks say), then the round number. The "v" sorts them after the ids of
   * the earlier format (`run_<ulid>.<n>`) still stored on totals.
   */
  nextRoundId(): string {
    const epoch = String(this.epoch).padStart(12, '0')
    return `v${epoch}.${String(this.rounds + 1).padStart(6, '0')}`
  }

  /** Renews the lease (one renewal at a time); a lost lock makes every later fence throw. */
  renewLease(): Promise<void> {
    this.renewing ??= (async () => {
      const sentAt = this.deps.clock.now().getTime()
      try {
        await usageJobLock.extend(this.store, this.runId, sentAt, AGGREGATION_LEASE_MS)
        this.leaseUntil = Math.max(this.leaseUntil, sentAt + AGGREGATION_LEASE_MS)
        this.renewedAt = sentAt
      } catch (error) {
        if (error instanceof LeaseLostError) this.lost = true
        throw error
      } finally {
        this.renewing = undefined
      }
    })()
    return this.renewing
  }

  /**
   * Self-fencing before every write: renew when a heartbeat is due, then refuse to write when
   * the lock is lost or the provable lease is nearly over (another run may take over then). A
   * write that still lands late is harmless: totals refuse round ids not above their last one,
   * markers and slot deletes are idempotent (docs/access-patterns.md, "Usage").
   */
  async fence(): Promise<void> {
    if (this.lost) throw new LeaseLostError()
    if (this.deps.clock.now().getTime() - this.renewedAt >= HEARTBEAT_MS) {
      await this.renewLease().catch((error) => {
        // A failed renewal is not yet a lost lease: the check below decides.
        if (error instanceof LeaseLostError) throw error
      })
    }
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
    const { db } = this
    const slots = read ?? (await usageJournal.get(db, round.slots))
    const byName = new Map(slots.map((slot) => [slotName(slot.ref), slot]))
    // The round record's order decides which copy of an id counts, on every attempt.
    const copies = round.slots.flatMap((ref) => {
      const slot = byName.get(slotName(ref))
      return slot ? slot.events.map((event) => ({ event, slot: slotName(ref) })) : []
    })
    const now = this.deps.clock.now()
    const events = copies.map((copy) => copy.event)
    const legacyBefore = await usageLayout.legacyBefore(this.store, now)
    const [stored, legacyCounted] = await Promise.all([
      usageEvents.copiesOf(db, events, now, 4),
      usageEvents.legacyCountedIn(
        db,
        events.filter((event) => mayBeLegacy(event, legacyBefore))
      ),
    ])
    // A copy in a slot outside this round that is no longer in the journal was counted (or
    // dropped for another) by an earlier round: slots leave the journal only that way.
    const inRound = new Set(round.slots.map(slotName))
    const outside = new Set<string>()
    for (const holders of stored.values()) {
      for (const holder of holders) if (!inRound.has(holder)) outside.add(holder)
    }
    const journalled = await usageJournal.stillJournalled(db, [...outside])
    const winners: UsageEvent[] = []
    /** Copies not counted: each added its cost to live spend when it was accepted. */
    const dropped: UsageEvent[] = []
    /** Winners whose own copy is missing (their request died before writing it). */
    const missing: { event: UsageEvent; slot: string }[] = []
    const chosen = new Set<string>()
    for (const { event, slot } of copies) {
      const identity = eventIdentity(event.organization_id, event.id)
      const holders = stored.get(identity)
      const legacyOwner = legacyCounted.get(identity)
      const countedBefore =
        (legacyOwner !== undefined && legacyOwner !== slot) ||
        [...(holders ?? [])].some((holder) => !inRound.has(holder) && !journalled.has(holder))
      if (chosen.has(identity) || countedBefore) {
        dropped.push(event)
        continue
      }
      chosen.add(identity)
      winners.push(event)
      if (!holders?.has(slot)) missing.push({ event, slot })
    }

    // Before the slots leave the journal: a counted id always has a copy naming its slot, so a
    // later copy of it is reported as a duplicate or dropped by a later round.
    await usageEvents.putCopies(db, missing, now, rawEventExpiry)
    await forEachConcurrently(totalsDeltas(winners), TOTALS_CONCURRENCY, async (delta) => {
      await usageTotals.add(db, delta, round.id)
    })
    // What the dropped copies added to live spend when they were accepted is taken back.
    const corrections = [
      ...costsByOrganizationMonth(dropped.filter((event) => readsLiveSpend(event, now))).values(),
    ]
    await forEachConcurrently(corrections, TOTALS_CONCURRENCY, async (c) => {
      await liveSpend.correct(db, c.organizationId, c.month, c.costs, round.id)
    })
    await usageJournal.remove(
      db,
      slots.map((slot) => slot.ref)
    )
    await this.fence()
    await usageJobLock.finishRound(this.store, this.runId)
    this.rounds++
    this.eventsAggregated += winners.length
    this.duplicatesDropped += copies.length - winners.length
  }

  /** Budgets of the scopes touched (now or by an earlier run that died) and of every limit. */
  async evaluate(scopes: Map<string, UsageScope>) {
    const { clock, publisher } = this.deps
    const { db } = this
    const limited = await spendLimits.listAllScopes(db)
    const requested = [...scopes.values(), ...limited]
    await this.fence()
    const ctx: ServiceContext = {
      db,
      clock,
      actor: { type: 'system', id: 'usage-aggregation' },
      requestId: this.runId,
    }
    const result = await evaluateBudgets(ctx, requested, publisher)
    await this.fence()
    await usageJobLock.clearScopes(this.store, this.runId, [...scopes.values()])
    return result
  }
}

/** The distinct scopes of `items` (scopes, or events: their workspace), by `scopeName`. */
function byName(items: readonly UsageScope[]): Map<string, UsageScope> {
  return new Map(
    items.map((item) => {
      const scope = { organization_id: item.organization_id, workspace_id: item.workspace_id }
      return [scopeName(scope), scope]
    })
  )
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
