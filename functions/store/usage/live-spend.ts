import { fnv1a32 } from '../../lib/hash.js'
import { roundToMicros } from '../../lib/money.js'
import { ConditionFailedError, type Db, type Item, type Key } from '../db.js'
import { keys } from '../keys.js'
import { scopeName, type UsageScope } from './scope.js'

/**
 * Live spend (docs/rate-limits.md, "Live spend"): the cost of every accepted event, ADDed by
 * ingestion to its organization's and workspace's figure of the event's month. It lives apart
 * from the month totals (which only the aggregation job writes), in a few items per
 * organization and month, `USAGE#<org>#L#<month>#<shard>` / `LIVE`: a workspace's figure is two
 * attributes (`m#<ws>` micros, `s#<ws>` sub-micros) of the shard its id hashes to, the
 * organization's (`m#ORG`, `s#ORG`) are on shard 0. So a request naming any number of workspaces
 * costs one UpdateItem per shard it touches (at most LIVE_SPEND_SHARDS, more only past
 * MAX_WORKSPACES_PER_UPDATE workspaces of one shard), not one per workspace.
 */
export interface MonthSpend {
  /** Aggregated (exact) cost, rounded once. */
  exact_micros: bigint
  /** Every ingested event's cost (exact, then rounded once). */
  live_micros: bigint
}

/**
 * Fixed: readers find a workspace by hashing its id. Four keep a shard item under 400 KB up to
 * ≈ 4,000 workspaces each (≈ 90 bytes a workspace), i.e. ≈ 16,000 workspaces an organization.
 */
export const LIVE_SPEND_SHARDS = 4
/** Keeps an update expression well under DynamoDB's 4 KB (≈ 22 characters a workspace). */
const MAX_WORKSPACES_PER_UPDATE = 120
const ORGANIZATION = 'ORG'

/** The shard of a workspace: FNV-1a of its id (readers depend on it never changing). */
export function liveSpendShard(workspaceId: string): number {
  return fnv1a32(workspaceId) % LIVE_SPEND_SHARDS
}

function shardOf(scope: UsageScope): number {
  return scope.workspace_id ? liveSpendShard(scope.workspace_id) : 0
}

function liveKey(organizationId: string, month: string, shard: number): Key {
  return keys.usageLiveSpend(organizationId, month, shard)
}

function micros(item: Item | undefined, attribute: string): bigint {
  return BigInt((item?.[attribute] as number | undefined) ?? 0)
}

/** An exact amount (micros + sub-micros) rounded once to micros; negative parts add up. */
function rounded(wholeMicros: bigint, subMicros: bigint): bigint {
  const value = wholeMicros * 1_000_000n + subMicros
  return value >= 0n
    ? roundToMicros({ micros: 0n, subMicros: value })
    : -roundToMicros({ micros: 0n, subMicros: -value })
}

function liveOf(item: Item | undefined, id: string): bigint {
  return rounded(micros(item, `m#${id}`), micros(item, `s#${id}`))
}

function exactOf(item: Item | undefined): bigint {
  return rounded(micros(item, 'cost_micros'), micros(item, 'cost_sub_micros'))
}

/** The UpdateItems that add `costs`: by shard, at most MAX_WORKSPACES_PER_UPDATE ids each. */
function shardUpdates(
  organizationId: string,
  costs: ReadonlyMap<string | null, unknown>
): { shard: number; ids: (string | null)[] }[] {
  const byShard = new Map<number, (string | null)[]>()
  for (const workspaceId of costs.keys()) {
    const shard = shardOf({ organization_id: organizationId, workspace_id: workspaceId })
    byShard.set(shard, [...(byShard.get(shard) ?? []), workspaceId])
  }
  const updates: { shard: number; ids: (string | null)[] }[] = []
  for (const [shard, ids] of [...byShard].sort(([a], [b]) => a - b)) {
    for (let i = 0; i < ids.length; i += MAX_WORKSPACES_PER_UPDATE) {
      updates.push({ shard, ids: ids.slice(i, i + MAX_WORKSPACES_PER_UPDATE) })
    }
  }
  return updates
}

function addExpression(
  ids: readonly (string | null)[],
  costs: ReadonlyMap<string | null, { micros: number; subMicros: number }>
) {
  const names: Record<string, string> = {}
  const values: Record<string, unknown> = {}
  const adds: string[] = []
  ids.forEach((workspaceId, i) => {
    const cost = costs.get(workspaceId)!
    const id = workspaceId ?? ORGANIZATION
    names[`#m${i}`] = `m#${id}`
    values[`:m${i}`] = cost.micros
    adds.push(`#m${i} :m${i}`)
    if (cost.subMicros) {
      names[`#s${i}`] = `s#${id}`
      values[`:s${i}`] = cost.subMicros
      adds.push(`#s${i} :s${i}`)
    }
  })
  return { adds, names, values }
}

export const liveSpend = {
  /**
   * Adds ingested cost to scopes of one organization and month (workspace id, or null for the
   * organization itself); returns each scope's live spend after its addition, by workspace id
   * (the organization under null).
   */
  async add(
    db: Db,
    organizationId: string,
    month: string,
    costs: ReadonlyMap<string | null, { micros: number; subMicros: number }>
  ): Promise<Map<string | null, bigint>> {
    const after = new Map<string | null, bigint>()
    await Promise.all(
      shardUpdates(organizationId, costs).map(async ({ shard, ids }) => {
        const { adds, names, values } = addExpression(ids, costs)
        const item = await db.update(
          liveKey(organizationId, month, shard),
          { expression: `ADD ${adds.join(', ')}`, names, values },
          undefined,
          // Only the figures this request added to: the rest of the item is other workspaces'.
          'updated'
        )
        for (const workspaceId of ids) {
          after.set(workspaceId, liveOf(item, workspaceId ?? ORGANIZATION))
        }
      })
    )
    return after
  },

  /**
   * Takes back what copies of events the aggregation dropped as duplicates added (`costs` are
   * positive: what to subtract). Two requests racing with the same new event both accept it and
   * both add its cost; the job counts it once, and this makes live spend follow (otherwise it
   * stays above the exact figure for the month, and a live suspension it caused is never lifted).
   * Once per round and item: each shard item remembers the last round that corrected it
   * (`corrected_round`), so a resumed round does not subtract twice.
   */
  async correct(
    db: Db,
    organizationId: string,
    month: string,
    costs: ReadonlyMap<string | null, { micros: number; subMicros: number }>,
    roundId: string
  ): Promise<void> {
    const negated = new Map(
      [...costs].map(([id, cost]) => [id, { micros: -cost.micros, subMicros: -cost.subMicros }])
    )
    await Promise.all(
      shardUpdates(organizationId, negated).map(async ({ shard, ids }, part) => {
        const { adds, names, values } = addExpression(ids, negated)
        // One guard attribute per update of the item (an item may take several updates).
        names['#round'] = `corrected_round_${part}`
        values[':round'] = roundId
        try {
          await db.update(
            liveKey(organizationId, month, shard),
            { expression: `ADD ${adds.join(', ')} SET #round = :round`, names, values },
            {
              expression: 'attribute_not_exists(#round) OR #round < :round',
              names: { '#round': names['#round']! },
              values: { ':round': roundId },
            }
          )
        } catch (error) {
          if (!(error instanceof ConditionFailedError)) throw error
        }
      })
    )
  },

  /** The month spend of these scopes, by `scopeName` (zero when nothing was used). */
  async getMany(
    db: Db,
    scopes: readonly UsageScope[],
    month: string
  ): Promise<Map<string, MonthSpend>> {
    const wanted = new Map<string, Key>()
    for (const scope of scopes) {
      for (const key of [
        keys.usageMonthly(scope.organization_id, month, scope.workspace_id),
        liveKey(scope.organization_id, month, shardOf(scope)),
      ]) {
        wanted.set(`${key.PK}\n${key.SK}`, key)
      }
    }
    const items = await db.batchGet([...wanted.values()], { concurrency: 4 })
    const byKey = new Map(items.map((item) => [`${item.PK}\n${item.SK}`, item]))
    const at = (key: Key) => byKey.get(`${key.PK}\n${key.SK}`)
    return new Map(
      scopes.map((scope) => [
        scopeName(scope),
        {
          exact_micros: exactOf(
            at(keys.usageMonthly(scope.organization_id, month, scope.workspace_id))
          ),
          live_micros: liveOf(
            at(liveKey(scope.organization_id, month, shardOf(scope))),
            scope.workspace_id ?? ORGANIZATION
          ),
        },
      ])
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
   * month, live spend corrected down to the exact figure) — the one the job read (same
   * `suspended_at`), not one ingestion set for a new month since.
   */
  async lift(db: Db, scope: UsageScope, month: string, seenSuspendedAt: string): Promise<boolean> {
    try {
      await db.delete(liveSuspensionKey(scope), {
        expression: 'attribute_exists(PK) AND (#month <> :month OR suspended_at = :seen)',
        names: { '#month': 'month' },
        values: { ':month': month, ':seen': seenSuspendedAt },
      })
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },
}
