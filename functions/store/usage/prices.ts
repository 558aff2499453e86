import type { PriceEntry } from '../../model/index.js'
import { saveVersioned } from '../collection.js'
import type { Db } from '../db.js'
import { keys } from '../keys.js'

/** An organization's own price entries: one item `ORG#o` / `PRICES`, versioned. */
export interface OrganizationPrices {
  entries: PriceEntry[]
  updated_at: string | null
  version: number
}

export const prices = {
  async get(db: Db, orgId: string): Promise<OrganizationPrices | undefined> {
    const item = await db.get(keys.prices(orgId))
    if (!item) return undefined
    return {
      entries: item.entries as PriceEntry[],
      updated_at: item.updated_at as string,
      version: item.version as number,
    }
  },

  /** First save: fails with ConditionFailedError if someone saved first. */
  async create(db: Db, orgId: string, value: OrganizationPrices): Promise<void> {
    await db.create({ ...keys.prices(orgId), ...value })
  },

  save(
    db: Db,
    orgId: string,
    value: OrganizationPrices,
    expectedVersion: number
  ): Promise<OrganizationPrices> {
    return saveVersioned(db, keys.prices(orgId), value, expectedVersion)
  },
}
