import { saveVersioned } from './collection.js'
import { ConditionFailedError, type Db, type Item, stripKeys } from './db.js'
import { keys } from './keys.js'

/** One entry of a rate-limit configuration: the limits of one model (or `*`, every model). */
export interface StoredRateLimitEntry {
  model: string
  requests_per_minute: number | null
  tokens_per_minute: number | null
  tokens_per_month: number | null
}

/** The rate limits of a scope as stored (`ORG#o` / `RATE_LIMITS#ORG` or `RATE_LIMITS#WS#w`). */
export interface StoredRateLimits {
  organization_id: string
  workspace_id: string | null
  limits: StoredRateLimitEntry[]
  updated_at: string
  version: number
}

export const rateLimitConfigs = {
  async get(db: Db, orgId: string, workspaceId: string | null) {
    const item = await db.get(keys.rateLimits(orgId, workspaceId))
    return item ? stripKeys<StoredRateLimits>(item) : undefined
  },

  /** The organization's and the workspace's configuration in one BatchGetItem. */
  async getPair(
    db: Db,
    orgId: string,
    workspaceId: string
  ): Promise<{ organization?: StoredRateLimits; workspace?: StoredRateLimits }> {
    const items = await db.batchGet([
      keys.rateLimits(orgId, null),
      keys.rateLimits(orgId, workspaceId),
    ])
    const stored = items.map((item) => stripKeys<StoredRateLimits>(item))
    const result: { organization?: StoredRateLimits; workspace?: StoredRateLimits } = {}
    for (const config of stored) {
      if ((config.workspace_id ?? null) === null) result.organization = config
      else result.workspace = config
    }
    return result
  },

  /** The configurations of these scopes that exist, keyed `<org>/<workspace or ORG>`. */
  async getMany(
    db: Db,
    scopes: readonly { organization_id: string; workspace_id: string | null }[]
  ): Promise<Map<string, StoredRateLimits>> {
    const items = await db.batchGet(
      scopes.map((s) => keys.rateLimits(s.organization_id, s.workspace_id)),
      { concurrency: 4 }
    )
    return new Map(
      items.map((item) => {
        const config = stripKeys<StoredRateLimits>(item)
        return [configName(config.organization_id, config.workspace_id ?? null), config]
      })
    )
  },

  /** Every workspace configuration of an organization (bounded by its number of workspaces). */
  async listWorkspaceConfigs(db: Db, orgId: string): Promise<StoredRateLimits[]> {
    const items = await db.queryAll({
      partition: keys.organization(orgId).PK,
      sort: { prefix: keys.workspaceRateLimitsPrefix },
    })
    return items.map((item) => stripKeys<StoredRateLimits>(item))
  },

  async create(db: Db, config: StoredRateLimits): Promise<void> {
    await db.create({ ...keys.rateLimits(config.organization_id, config.workspace_id), ...config })
  },

  save(db: Db, config: StoredRateLimits, expectedVersion: number): Promise<StoredRateLimits> {
    return saveVersioned(
      db,
      keys.rateLimits(config.organization_id, config.workspace_id),
      config,
      expectedVersion
    )
  },
}

/** A counter a consumption adds to, and the largest value it may have before the addition. */
export interface CounterCheck {
  name: string
  add: number
  /** The condition is `counter <= max` (an absent counter is 0); `add` 0 only checks. */
  max: number
}

/**
 * Rate-limit counters: one item per organization, window and shard (`keys.rateWindow`), its
 * counters named by the limiter. Items carry `expires_at_epoch` (the table's TTL) a while after
 * their window ends; reads ignore expired items, since dynalite (locally) never deletes them.
 */
export const rateWindows = {
  /**
   * Adds every check's amount in one conditional UpdateItem, if every counter is within its
   * `max`: the new item, or null when a condition failed (nothing was added then).
   */
  async consume(
    db: Db,
    orgId: string,
    window: string,
    shard: number,
    checks: readonly CounterCheck[],
    expiresAtEpoch: number
  ): Promise<Item | null> {
    const names: Record<string, string> = { '#ttl': 'expires_at_epoch' }
    const values: Record<string, unknown> = { ':ttl': expiresAtEpoch }
    const adds: string[] = []
    const conditions: string[] = []
    checks.forEach((check, i) => {
      names[`#c${i}`] = check.name
      values[`:m${i}`] = check.max
      conditions.push(`(attribute_not_exists(#c${i}) OR #c${i} <= :m${i})`)
      if (check.add !== 0) {
        values[`:a${i}`] = check.add
        adds.push(`#c${i} :a${i}`)
      }
    })
    const expression = `SET #ttl = :ttl${adds.length ? ` ADD ${adds.join(', ')}` : ''}`
    try {
      const item = await db.update(
        keys.rateWindow(orgId, window, shard),
        { expression, names, values },
        conditions.length ? { expression: conditions.join(' AND ') } : undefined,
        true
      )
      return item ?? {}
    } catch (error) {
      if (error instanceof ConditionFailedError) return null
      throw error
    }
  },

  /** Adds amounts unconditionally (ingested usage correcting the estimates). */
  async add(
    db: Db,
    orgId: string,
    window: string,
    shard: number,
    amounts: ReadonlyMap<string, number>,
    expiresAtEpoch: number
  ): Promise<void> {
    const names: Record<string, string> = { '#ttl': 'expires_at_epoch' }
    const values: Record<string, unknown> = { ':ttl': expiresAtEpoch }
    const adds: string[] = []
    let i = 0
    for (const [name, amount] of amounts) {
      names[`#c${i}`] = name
      values[`:a${i}`] = amount
      adds.push(`#c${i} :a${i}`)
      i++
    }
    if (adds.length === 0) return
    await db.update(keys.rateWindow(orgId, window, shard), {
      expression: `SET #ttl = :ttl ADD ${adds.join(', ')}`,
      names,
      values,
    })
  },

  /** The counters of one shard of a window (empty when absent or expired at `nowEpoch`). */
  async get(
    db: Db,
    orgId: string,
    window: string,
    shard: number,
    nowEpoch: number
  ): Promise<Record<string, number>> {
    const item = await db.get(keys.rateWindow(orgId, window, shard))
    if (!item || (item.expires_at_epoch as number) <= nowEpoch) return {}
    const { PK, SK, expires_at_epoch, ...counters } = item
    return counters as Record<string, number>
  },
}

export function configName(organizationId: string, workspaceId: string | null): string {
  return `${organizationId}/${workspaceId ?? 'ORG'}`
}
