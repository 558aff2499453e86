import { roundToMicros } from '../../lib/money.js'
import { ConditionFailedError, type Db, type Item, type Key } from '../db.js'
import { keys } from '../keys.js'
import { scopeName, type UsageScope } from './scope.js'
import { PENDING_MICROS, PENDING_SUB_MICROS } from './totals.js'

/**
 * Live spend (docs/rate-limits.md, "Live spend"). Ingestion ADDs each accepted event's exact
 * cost to `pending_micros`/`pending_sub_micros` of its scope's month item — the same item that
 * holds the month's exact (aggregated) cost — and the aggregation job moves it from pending to
 * exact in its guarded update, so live = exact + pending at every instant.
 */
export interface MonthSpend {
  /** Aggregated (exact) cost, rounded once. */
  exact_micros: bigint
  /** Exact plus ingested and not yet aggregated, rounded once. */
  live_micros: bigint
}

function spendOf(item: Item | undefined): MonthSpend {
  const micros = BigInt((item?.cost_micros as number | undefined) ?? 0)
  const sub = BigInt((item?.cost_sub_micros as number | undefined) ?? 0)
  const pending = BigInt((item?.[PENDING_MICROS] as number | undefined) ?? 0)
  const pendingSub = BigInt((item?.[PENDING_SUB_MICROS] as number | undefined) ?? 0)
  // In sub-micro units, so a negative transient part (aggregated before its ADD landed) adds up.
  const exactSub = micros * 1_000_000n + sub
  const liveSub = exactSub + pending * 1_000_000n + pendingSub
  const toMicros = (value: bigint) =>
    value >= 0n
      ? roundToMicros({ micros: 0n, subMicros: value })
      : -roundToMicros({ micros: 0n, subMicros: -value })
  return { exact_micros: toMicros(exactSub), live_micros: toMicros(liveSub) }
}

export const liveSpend = {
  /** Adds ingested cost to a scope's month; returns its spend after the addition. */
  async add(
    db: Db,
    scope: UsageScope,
    month: string,
    cost: { micros: number; subMicros: number }
  ): Promise<MonthSpend> {
    const names: Record<string, string> = { '#pm': PENDING_MICROS }
    const values: Record<string, unknown> = { ':pm': cost.micros }
    const adds = ['#pm :pm']
    if (cost.subMicros) {
      names['#ps'] = PENDING_SUB_MICROS
      values[':ps'] = cost.subMicros
      adds.push('#ps :ps')
    }
    const item = await db.update(
      keys.usageMonthly(scope.organization_id, month, scope.workspace_id),
      { expression: `ADD ${adds.join(', ')}`, names, values },
      undefined,
      true
    )
    return spendOf(item)
  },

  /** The month spend of these scopes, by `scopeName` (zero when nothing was used). */
  async getMany(
    db: Db,
    scopes: readonly UsageScope[],
    month: string
  ): Promise<Map<string, MonthSpend>> {
    const items = await db.batchGet(
      scopes.map((s) => keys.usageMonthly(s.organization_id, month, s.workspace_id)),
      { concurrency: 4 }
    )
    const bySk = new Map(items.map((item) => [`${item.PK}\n${item.SK}`, item]))
    return new Map(
      scopes.map((scope) => {
        const key = keys.usageMonthly(scope.organization_id, month, scope.workspace_id)
        return [scopeName(scope), spendOf(bySk.get(`${key.PK}\n${key.SK}`))]
      })
    )
  },
}

/** A live suspension: ingestion saw live spend reach a hard limit. */
export interface LiveSuspension extends UsageScope {
  month: string
  live_micros: number
  limit_micros: number
  suspended_at: string
}

/** Its key, which the decision read path adds to its one BatchGetItem (decision-facts.ts). */
export function liveSuspensionKey(scope: UsageScope): Key {
  return keys.liveSuspension(scope.organization_id, scope.workspace_id)
}

export const liveSuspensions = {
  /** Creates the suspension of (scope, month); false when that month's exists already. */
  async create(db: Db, suspension: LiveSuspension): Promise<boolean> {
    try {
      await db.put(
        { ...liveSuspensionKey(suspension), ...suspension },
        {
          expression: 'attribute_not_exists(PK) OR #month <> :month',
          names: { '#month': 'month' },
          values: { ':month': suspension.month },
        }
      )
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },

  async getMany(db: Db, scopes: readonly UsageScope[]): Promise<Map<string, LiveSuspension>> {
    const items = await db.batchGet(scopes.map(liveSuspensionKey), { concurrency: 4 })
    return new Map(
      items.map((item) => {
        const { PK, SK, ...rest } = item
        const suspension = rest as unknown as LiveSuspension
        return [scopeName(suspension), suspension]
      })
    )
  },

  /**
   * Lifts a suspension that the aggregation job found no longer holds (a raised limit, a new
   * month) — unless it was set from a live figure the job's reading did not include yet.
   */
  async lift(db: Db, scope: UsageScope, month: string, seenLiveMicros: bigint): Promise<boolean> {
    try {
      await db.delete(liveSuspensionKey(scope), {
        expression: 'attribute_exists(PK) AND (#month <> :month OR live_micros <= :seen)',
        names: { '#month': 'month' },
        values: { ':month': month, ':seen': Number(seenLiveMicros) },
      })
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },
}
