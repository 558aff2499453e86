import { ConditionFailedError, type Db } from '../db.js'
import { keys } from '../keys.js'
import type { SlotRef } from './journal.js'
import { parseScopeName, scopeName, type UsageScope } from './scope.js'

/** The slots one aggregation round works on, fixed before it writes anything. */
export interface RoundRecord {
  id: string
  slots: SlotRef[]
}

export interface JobLock {
  owner: string
  lease_until: number
  /**
   * Fencing token: raised by one on every claim, so a later holder always has a larger one.
   * Round ids start with it, and a total only takes a round id larger than its last one.
   */
  epoch: number
  /** A round that was started and not finished (its run crashed): resumed first. */
  round: RoundRecord | null
  /** Budget scopes with aggregated usage whose budgets were not yet re-evaluated. */
  pending_scopes: UsageScope[]
}

/** Thrown when the run no longer holds the lock (its lease ran out and another run took it). */
export class LeaseLostError extends Error {
  constructor() {
    super('the aggregation job lock was lost')
  }
}

// `round` and `owner` may be DynamoDB reserved words: always through placeholders.
const ROUND = { '#round': 'round' }

/**
 * The aggregation job's lock `USAGE_JOB` / `LOCK`: one run at a time, with a lease so a run that
 * died is replaced after `lease_until`. The round in progress and the scopes still to evaluate
 * live on the same item, so a replacement run resumes exactly what the dead one started.
 */
export const usageJobLock = {
  /**
   * Takes the lock if free or expired. When another live run holds it: `held` with the end of
   * that run's lease (what a caller may wait for before trying again).
   */
  async claim(
    db: Db,
    runId: string,
    nowMs: number,
    leaseMs: number
  ): Promise<{ lock: JobLock } | { held: { lease_until: number } }> {
    try {
      const item = await db.update(
        keys.usageJobLock,
        {
          expression: 'SET #owner = :run, lease_until = :until ADD epoch :one',
          names: { '#owner': 'owner' },
          values: { ':run': runId, ':until': nowMs + leaseMs, ':one': 1 },
        },
        {
          // Or already ours: a retried claim whose first answer was lost.
          expression: 'attribute_not_exists(lease_until) OR lease_until < :now OR #owner = :run',
          values: { ':now': nowMs },
        },
        true
      )
      return { lock: toLock(item!) }
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error
      const current = await db.get(keys.usageJobLock)
      // Released between the two calls: free now, so "try again at once".
      return { held: { lease_until: (current?.lease_until as number | undefined) ?? nowMs } }
    }
  },

  /** Renews the lease; LeaseLostError when another run holds the lock (or none does). */
  async extend(db: Db, runId: string, nowMs: number, leaseMs: number): Promise<void> {
    await owned(db, runId, {
      expression: 'SET lease_until = :until',
      values: { ':until': nowMs + leaseMs },
    })
  },

  /**
   * Saves the round before it writes anything, together with the budget scopes its events
   * belong to (so they are evaluated even if the run dies after the round).
   */
  async startRound(
    db: Db,
    runId: string,
    round: RoundRecord,
    scopes: readonly UsageScope[]
  ): Promise<void> {
    await owned(db, runId, {
      expression: `SET #round = :round${scopes.length ? ' ADD pending_scopes :scopes' : ''}`,
      names: ROUND,
      values: { ':round': round, ...(scopes.length ? { ':scopes': scopeNames(scopes) } : {}) },
    })
  },

  async finishRound(db: Db, runId: string): Promise<void> {
    await owned(db, runId, { expression: 'REMOVE #round', names: ROUND })
  },

  async clearScopes(db: Db, runId: string, scopes: readonly UsageScope[]): Promise<void> {
    if (scopes.length === 0) return
    await owned(db, runId, {
      expression: 'DELETE pending_scopes :scopes',
      values: { ':scopes': scopeNames(scopes) },
    })
  },

  /**
   * Records that run `runId` finished at `finishedAt` with the journal drained: every event
   * journaled before then is in the totals. Kept on the lock item, never moved backwards.
   */
  async recordCompleted(db: Db, runId: string, finishedAt: string): Promise<void> {
    await db
      .update(
        keys.usageJobLock,
        { expression: 'SET last_completed_at = :at', values: { ':at': finishedAt } },
        {
          expression:
            '#owner = :run AND (attribute_not_exists(last_completed_at) OR last_completed_at < :at)',
          names: { '#owner': 'owner' },
          values: { ':run': runId, ':at': finishedAt },
        }
      )
      .catch((error) => {
        // Lost the lock meanwhile, or a later run recorded a later time: nothing to add.
        if (!(error instanceof ConditionFailedError)) throw error
      })
  },

  /** When the last run that drained the journal finished (ISO 8601); null if none ever did. */
  async lastCompletedAt(db: Db): Promise<string | null> {
    const item = await db.get(keys.usageJobLock)
    return (item?.last_completed_at as string | undefined) ?? null
  },

  /** Gives the lock up (keeping any unfinished round for the next run). */
  async release(db: Db, runId: string): Promise<void> {
    await db
      .update(
        keys.usageJobLock,
        { expression: 'REMOVE #owner, lease_until', names: { '#owner': 'owner' } },
        { expression: '#owner = :run', values: { ':run': runId } }
      )
      .catch((error) => {
        if (!(error instanceof ConditionFailedError)) throw error
      })
  },
}

async function owned(
  db: Db,
  runId: string,
  update: { expression: string; names?: Record<string, string>; values?: Record<string, unknown> }
): Promise<void> {
  try {
    await db.update(
      keys.usageJobLock,
      { ...update, names: { ...update.names, '#owner': 'owner' } },
      { expression: '#owner = :run', values: { ':run': runId } }
    )
  } catch (error) {
    if (error instanceof ConditionFailedError) throw new LeaseLostError()
    throw error
  }
}

/** Pending scopes are stored as a string set of scope names. */
function scopeNames(scopes: readonly UsageScope[]): Set<string> {
  return new Set(scopes.map(scopeName))
}

function toLock(item: Record<string, unknown>): JobLock {
  return {
    owner: item.owner as string,
    lease_until: item.lease_until as number,
    epoch: item.epoch as number,
    round: (item.round as RoundRecord | undefined) ?? null,
    pending_scopes: [...((item.pending_scopes as Set<string> | undefined) ?? [])].map(
      parseScopeName
    ),
  }
}
