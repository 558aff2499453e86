import { roundToMicros } from '../../lib/money.js'
import { dayKey, monthKey } from '../../lib/time-buckets.js'
import { ConditionFailedError, type Db, type Item, type Key } from '../db.js'
import { keys } from '../keys.js'
import { scopeName, type UsageScope } from './scope.js'

/**
 * What usage adds up to. The exact cost is `cost_micros` micro-units plus `cost_sub_micros`
 * millionths of one (absent = 0, as on items written before); both stay safe integers however
 * many events are added, and are rounded once where a figure is shown (`costMicrosOf`).
 */
export interface UsageAmounts {
  input_tokens: number
  output_tokens: number
  requests: number
  cost_micros: number
  cost_sub_micros?: number
}

/** The exact cost of amounts, rounded once to micro-units. */
export function costMicrosOf(amounts: Pick<UsageAmounts, 'cost_micros' | 'cost_sub_micros'>) {
  return roundToMicros({
    micros: BigInt(amounts.cost_micros),
    subMicros: BigInt(amounts.cost_sub_micros ?? 0),
  })
}

export interface UsageDimensions {
  workspace_id: string | null
  model: string | null
  product: string | null
  api_key_id: string | null
  member_id: string | null
}

export type TotalsGranularity = 'hour' | 'day' | 'month'

/** One total item: a bucket (hour, day or month) of one combination of dimensions. */
export interface UsageRow extends UsageDimensions, UsageAmounts {
  bucket_start: string
}

/** An amount to add to one total item. */
export interface TotalsDelta extends UsageAmounts {
  granularity: TotalsGranularity
  organization_id: string
  bucket_start: Date
  dimensions: UsageDimensions
}

const AMOUNT_NAMES = [
  'input_tokens',
  'output_tokens',
  'requests',
  'cost_micros',
  'cost_sub_micros',
] as const
const DIMENSION_NAMES = ['workspace_id', 'model', 'product', 'api_key_id', 'member_id'] as const

/** The item a delta goes to. Month items only know the workspace (or nothing: the org). */
export function totalsKey(delta: Omit<TotalsDelta, keyof UsageAmounts>): Key {
  const start = delta.bucket_start
  const d = delta.dimensions
  const dimensions = [d.workspace_id, d.model, d.product, d.api_key_id, d.member_id].map(
    (value) => value ?? ''
  )
  const iso = start.toISOString()
  switch (delta.granularity) {
    case 'hour':
      return keys.usageHourly(delta.organization_id, dayKey(start), iso.slice(11, 13), dimensions)
    case 'day':
      return keys.usageDaily(delta.organization_id, monthKey(start), iso.slice(8, 10), dimensions)
    case 'month':
      return keys.usageMonthly(delta.organization_id, monthKey(start), d.workspace_id)
  }
}

/**
 * Totals per hour, day and month, written only by the aggregation job. Each item remembers the
 * last round that added to it, and an addition is conditional on the round's id being larger:
 * round ids grow with every round (they start with the job lock's fencing epoch), so a resumed
 * round skips what it already added, and a write of a run that lost the lock and lands late —
 * after its round was resumed, finished and followed by others — is refused too.
 */
export const usageTotals = {
  /** Adds the delta unless round `roundId` (or a later one) already did; false when it had. */
  async add(db: Db, delta: TotalsDelta, roundId: string): Promise<boolean> {
    const names: Record<string, string> = { '#round': 'last_round', '#start': 'bucket_start' }
    const values: Record<string, unknown> = {
      ':round': roundId,
      ':start': delta.bucket_start.toISOString(),
    }
    const adds: string[] = []
    AMOUNT_NAMES.forEach((name, i) => {
      if (delta[name] === undefined) return
      names[`#a${i}`] = name
      values[`:a${i}`] = delta[name]
      adds.push(`#a${i} :a${i}`)
    })
    const sets = ['#round = :round', '#start = :start']
    DIMENSION_NAMES.forEach((name, i) => {
      const value = delta.dimensions[name]
      if (value === null) return
      names[`#d${i}`] = name
      values[`:d${i}`] = value
      sets.push(`#d${i} = :d${i}`)
    })
    try {
      await db.update(
        totalsKey(delta),
        { expression: `ADD ${adds.join(', ')} SET ${sets.join(', ')}`, names, values },
        { expression: 'attribute_not_exists(#round) OR #round < :round' }
      )
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },

  /** Hourly rows of an organization's day, hours `fromHour`..`toHour` ("00".."23"). */
  async hourly(db: Db, orgId: string, day: string, fromHour: string, toHour: string) {
    const items = await db.queryAll({
      partition: keys.usageHourlyPartition(orgId, day),
      sort: { between: [fromHour, `${toHour}~`] },
    })
    return items.map(toRow)
  },

  /** Daily rows of an organization's month, days `fromDay`..`toDay` ("01".."31"). */
  async daily(db: Db, orgId: string, month: string, fromDay: string, toDay: string) {
    const items = await db.queryAll({
      partition: keys.usageDailyPartition(orgId, month),
      sort: { between: [fromDay, `${toDay}~`] },
    })
    return items.map(toRow)
  },

  /** Month totals of scopes, by `scopeName`; absent = nothing used. */
  async monthly(
    db: Db,
    scopes: readonly UsageScope[],
    month: string
  ): Promise<Map<string, UsageAmounts>> {
    const items = await db.batchGet(
      scopes.map((scope) => keys.usageMonthly(scope.organization_id, month, scope.workspace_id)),
      { concurrency: 4 }
    )
    const byKey = new Map(items.map((item) => [`${item.PK}\n${item.SK}`, toAmounts(item)]))
    const result = new Map<string, UsageAmounts>()
    for (const scope of scopes) {
      const key = keys.usageMonthly(scope.organization_id, month, scope.workspace_id)
      const amounts = byKey.get(`${key.PK}\n${key.SK}`)
      if (amounts) result.set(scopeName(scope), amounts)
    }
    return result
  },
}

function toAmounts(item: Item): UsageAmounts {
  return {
    input_tokens: (item.input_tokens as number | undefined) ?? 0,
    output_tokens: (item.output_tokens as number | undefined) ?? 0,
    requests: (item.requests as number | undefined) ?? 0,
    cost_micros: (item.cost_micros as number | undefined) ?? 0,
    cost_sub_micros: (item.cost_sub_micros as number | undefined) ?? 0,
  }
}

function toRow(item: Item): UsageRow {
  return {
    bucket_start: item.bucket_start as string,
    workspace_id: (item.workspace_id as string | undefined) ?? null,
    model: (item.model as string | undefined) ?? null,
    product: (item.product as string | undefined) ?? null,
    api_key_id: (item.api_key_id as string | undefined) ?? null,
    member_id: (item.member_id as string | undefined) ?? null,
    ...toAmounts(item),
  }
}
