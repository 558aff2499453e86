import { encodeTime } from 'ulid'
import type { DecisionService } from '../authz/decisions.js'
import type { Decision } from '../authz/engine.js'
import { ID_PREFIXES, newId } from '../lib/ids.js'
import { logger } from '../lib/logger.js'
import type { DecisionRecord } from '../model/index.js'
import type { Db } from '../store/db.js'
import { decisionLog } from '../store/decision-log.js'
import type { Page, PageRequest } from '../store/pagination.js'

/** How long a decision is kept (contract v1.1: 30 days). */
export const DECISION_RETENTION_DAYS = 30
/** DynamoDB's BatchWriteItem limit: the recorder writes in batches of this many. */
const BATCH = 25

/** One decision as the route hands it over: the request as decided and its result. */
export interface DecidedEntry {
  request: DecisionRecord['request']
  result: Decision
}

export interface DecisionLogOptions {
  /**
   * `background` (a long-lived server): records are buffered and written by BatchWriteItem
   * after the response, 25 per call, at the latest `flushMs` after they were made.
   * `before-response` (Lambda, which freezes the instance once the response is returned): the
   * decisions of a request are written, in batches of 25, before its response is returned.
   */
  mode: 'background' | 'before-response'
  /** Longest wait before a partly filled batch is written (background). */
  flushMs: number
  /** Records buffered at most; past it a decision waits for the write in flight (backpressure). */
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
 * always), and they are written in batches of 25 — at most one store call per decision, and
 * 1/25 of one under load.
 */
export class DecisionRecorder {
  private readonly options: DecisionLogOptions
  private buffer: DecisionRecord[] = []
  private inFlight: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly db: Db,
    private readonly decisions: DecisionService,
    options: Partial<DecisionLogOptions> = {}
  ) {
    this.options = { ...DEFAULT_DECISION_LOG_OPTIONS, ...options }
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
    if (this.options.mode === 'before-response') {
      // A store that fails this write does not fail the decision: authorization stays
      // available, and the loss is logged (as a failed background write is).
      await this.write(kept)
      return ids
    }
    this.buffer.push(...kept)
    if (this.buffer.length >= BATCH) {
      const written = this.writeFullBatches()
      if (this.buffer.length + BATCH > this.options.maxBuffered) await written
    }
    this.scheduleFlush()
    return ids
  }

  /** Writes everything buffered and waits for every write in flight (read-your-writes). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const all = this.buffer
    this.buffer = []
    await this.enqueue(all)
  }

  /** Starts writing every full batch now; a partial batch waits for the timer. */
  private writeFullBatches(): Promise<void> {
    const full = this.buffer.length - (this.buffer.length % BATCH)
    const batches = this.buffer.slice(0, full)
    this.buffer = this.buffer.slice(full)
    return this.enqueue(batches)
  }

  /** One write at a time, in order; a failed write is logged (the responses are already sent). */
  private enqueue(records: DecisionRecord[]): Promise<void> {
    if (records.length === 0) return this.inFlight
    this.inFlight = this.inFlight.then(() => this.write(records))
    return this.inFlight
  }

  /** Writes records; a failure (after the store client's retries) is logged, not thrown. */
  private async write(records: DecisionRecord[]): Promise<void> {
    try {
      await decisionLog.putMany(this.db, records)
    } catch (error) {
      logger.error('decision log write failed; records dropped', {
        error,
        records: records.length,
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
