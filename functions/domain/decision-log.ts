import { encodeTime } from 'ulid'
import type { DecisionService } from '../authz/decisions.js'
import type { Decision } from '../authz/engine.js'
import { ID_PREFIXES, newId } from '../lib/ids.js'
import { logger } from '../lib/logger.js'
import type { DecisionRecord } from '../model/index.js'
import type { Db } from '../store/db.js'
import { type DecisionPack, decisionLog } from '../store/decision-log.js'
import type { Page, PageRequest } from '../store/pagination.js'

/** How long a decision is kept (contract v1.1: 30 days). */
export const DECISION_RETENTION_DAYS = 30
/** DynamoDB's BatchWriteItem limit: the recorder writes items in batches of this many. */
const BATCH = 25
/** Batches one background write step takes (written 4 at a time by `decisionLog.putPacks`). */
const BATCHES_PER_WRITE = 4

/** One decision as the route hands it over: the request as decided and its result. */
export interface DecidedEntry {
  request: DecisionRecord['request']
  result: Decision
}

export interface DecisionLogOptions {
  /**
   * `background` (a long-lived server): each request's records are one item (see
   * `decisionLog.pack`); items are buffered and written by BatchWriteItem after the response,
   * 25 per call, at the latest `flushMs` after they were made.
   * `before-response` (Lambda, which freezes the instance once the response is returned): the
   * item of a request is written before its response is returned.
   */
  mode: 'background' | 'before-response'
  /** Longest wait before a partly filled batch is written (background). */
  flushMs: number
  /**
   * Records waiting to be written at most (background); past it a decision waits for the
   * writes to catch up (backpressure), so a store slower than the decisions costs latency, not
   * unbounded memory.
   */
  maxBuffered: number
  /** [0, 1) uniform: decides which allowed decisions a sample rate below 1 keeps. */
  random: () => number
}

export const DEFAULT_DECISION_LOG_OPTIONS: DecisionLogOptions = {
  mode: 'background',
  flushMs: 50,
  maxBuffered: 10_000,
  random: Math.random,
}

/**
 * The decision log's writer (docs/decision-log.md). `record` mints every decision's id and
 * returns the ids; which records are kept follows the organization's sampling setting (denies
 * always). The kept records of a request are one item (a batch of 100 decisions is one item,
 * not 100), and items are written in batches of 25 — at most one store call per request, and
 * 1/25 of one under load.
 */
export class DecisionRecorder {
  private readonly options: DecisionLogOptions
  /** Items not taken by a write yet, oldest first. */
  private buffer: DecisionPack[] = []
  /** Records in `buffer`. */
  private buffered = 0
  /** Records kept so far, and written (or dropped by a failed write) so far. */
  private pushed = 0
  private done = 0
  /** Whether the writer (one at a time, in order) runs, and its write in progress. */
  private writing = false
  private step: Promise<void> | undefined
  /** Flushes waiting: the writer then takes partial batches too. */
  private flushes = 0
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly db: Db,
    private readonly decisions: DecisionService,
    options: Partial<DecisionLogOptions> = {}
  ) {
    this.options = { ...DEFAULT_DECISION_LOG_OPTIONS, ...options }
  }

  /** Records kept and not written yet: buffered, or in the write in progress. */
  get unwritten(): number {
    return this.pushed - this.done
  }

  /** Records the decisions of one request; returns their ids, in order. */
  async record(
    organizationId: string,
    caller: DecisionRecord['caller'],
    entries: readonly DecidedEntry[],
    at: Date
  ): Promise<string[]> {
    const { revision, allowedSampleRate } = await this.decisions.logContext(organizationId)
    const decidedAt = at.toISOString()
    const expiresAt = new Date(at.getTime() + DECISION_RETENTION_DAYS * 86_400_000).toISOString()
    const ids: string[] = []
    const kept: DecisionRecord[] = []
    // One synchronous run of the monotonic generator: consecutive ids of one millisecond, as
    // `decisionLog.get` relies on to find the item that holds an id.
    for (const { request, result } of entries) {
      const id = newId('decision', at)
      ids.push(id)
      if (result.decision === 'allow' && !(this.options.random() < allowedSampleRate)) continue
      kept.push({
        id,
        object: 'decision',
        organization_id: organizationId,
        decided_at: decidedAt,
        caller,
        request,
        decision: result.decision,
        determining_policies: result.determining_policies,
        errors: result.errors,
        revision: { revision: revision.revision, policy_revision: revision.policyRevision },
        expires_at: expiresAt,
      })
    }
    if (kept.length === 0) return ids
    const packs = decisionLog.pack(kept)
    if (this.options.mode === 'before-response') {
      // A store that fails this write does not fail the decision: authorization stays
      // available, and the loss is logged (as a failed background write is).
      await this.write(packs)
      return ids
    }
    this.buffer.push(...packs)
    this.pushed += kept.length
    this.buffered += kept.length
    // A store call's worth of decisions waits (25 single ones, or one batch of 25 or more).
    if (this.buffered >= BATCH) this.run()
    // Backpressure: while more records wait than the bound allows, wait for the writer's steps
    // (each takes up to BATCHES_PER_WRITE batches off the buffer).
    while (this.unwritten > this.options.maxBuffered && this.step) await this.step
    this.scheduleFlush()
    return ids
  }

  /**
   * Writes everything recorded before the call, waiting for it (read-your-writes); what is
   * recorded meanwhile is not waited for.
   */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const target = this.pushed
    this.flushes++
    try {
      while (this.done < target) {
        this.run()
        // Nothing written while records wait cannot happen (they are buffered or in a step);
        // stop rather than spin if it ever did.
        if (!this.step) break
        await this.step
      }
    } finally {
      this.flushes--
    }
  }

  /** Starts the writer unless it runs or nothing is ready for it. */
  private run(): void {
    if (this.writing) return
    const packs = this.take()
    if (packs.length === 0) return
    this.writing = true
    void this.writeFrom(packs)
  }

  /**
   * The next write step's items: none until a flush waits or a store call's worth of
   * decisions (BATCH) is buffered, then up to BATCHES_PER_WRITE batches of items.
   */
  private take(): DecisionPack[] {
    if (this.flushes === 0 && this.buffered < BATCH) return []
    const packs = this.buffer.splice(0, BATCH * BATCHES_PER_WRITE)
    this.buffered -= count(packs)
    return packs
  }

  /**
   * The writer: one step at a time, in order, until nothing is ready. It stops in the same
   * turn as it finds nothing to take, so `run()` never counts on a writer that has finished.
   */
  private async writeFrom(first: DecisionPack[]): Promise<void> {
    try {
      for (let packs = first; packs.length > 0; packs = this.take()) {
        this.step = this.write(packs)
        await this.step
        this.done += count(packs)
      }
    } finally {
      this.step = undefined
      this.writing = false
    }
  }

  /** Writes items; a failure (after the store client's retries) is logged, not thrown. */
  private async write(packs: DecisionPack[]): Promise<void> {
    try {
      await decisionLog.putPacks(this.db, packs)
    } catch (error) {
      logger.error('decision log write failed; records dropped', {
        error,
        records: count(packs),
      })
    }
  }

  private scheduleFlush(): void {
    if (this.timer || this.buffer.length === 0) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.flush()
    }, this.options.flushMs)
    // A buffered record must not keep a finished process alive (tests, scripts); servers live on.
    this.timer.unref()
  }
}

const count = (packs: readonly DecisionPack[]) => packs.reduce((sum, pack) => sum + pack.records, 0)

export interface DecisionFilter {
  principal_id?: string | undefined
  action?: string | undefined
  decision?: 'allow' | 'deny' | undefined
  workspace_id?: string | undefined
  /** Decisions at or after this time. */
  after_time?: Date | undefined
  /** Decisions before this time. */
  before_time?: Date | undefined
}

/** The lowest decision id at or after `time` (ULIDs sort by time). */
export function firstDecisionIdAt(time: Date): string {
  return `${ID_PREFIXES.decision}_${encodeTime(time.getTime(), 10)}`
}

/** Recorded decisions, newest first; expired ones are never returned. */
export function listDecisions(
  db: Db,
  organizationId: string,
  filter: DecisionFilter,
  page: PageRequest,
  now: Date
): Promise<Page<DecisionRecord>> {
  const { after_time, before_time } = filter
  if (after_time && before_time && after_time.getTime() >= before_time.getTime()) {
    // An empty range (a sort-key range the store would refuse).
    return Promise.resolve({ data: [], has_more: false, next_cursor: null })
  }
  return decisionLog.list(
    db,
    organizationId,
    {
      principal_id: filter.principal_id,
      action: filter.action,
      decision: filter.decision,
      workspace_id: filter.workspace_id,
      fromId: filter.after_time ? firstDecisionIdAt(filter.after_time) : undefined,
      toId: filter.before_time
        ? `${ID_PREFIXES.decision}_${encodeTime(Math.max(0, filter.before_time.getTime() - 1), 10)}${'Z'.repeat(16)}`
        : undefined,
    },
    page,
    now
  )
}

export function getDecision(
  db: Db,
  organizationId: string,
  id: string,
  now: Date
): Promise<DecisionRecord | undefined> {
  return decisionLog.get(db, organizationId, id, now)
}
