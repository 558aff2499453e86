import type { CustomPolicy } from '../model/index.js'
import { saveVersioned } from './collection.js'
import { ConditionFailedError, type Db, stripKeys } from './db.js'
import { keys } from './keys.js'

/**
 * An organization's custom Cedar policies: `ORG#o` / `POLICY#<id>`. Few per organization
 * (bounded by MAX_CUSTOM_POLICIES), so they are always read all at once.
 */
export const customPolicies = {
  async get(db: Db, orgId: string, policyId: string): Promise<CustomPolicy | undefined> {
    const item = await db.get(keys.customPolicy(orgId, policyId))
    return item ? stripKeys<CustomPolicy>(item) : undefined
  },

  /** Every custom policy of the organization, by id. */
  async all(db: Db, orgId: string): Promise<CustomPolicy[]> {
    const items = await db.queryAll({
      partition: keys.organization(orgId).PK,
      sort: { prefix: keys.customPolicyPrefix },
    })
    return items.map((item) => stripKeys<CustomPolicy>(item))
  },

  /** Writes a new policy; throws ConditionFailedError if the id is taken. */
  async create(db: Db, policy: CustomPolicy): Promise<void> {
    await db.create({ ...keys.customPolicy(policy.organization_id, policy.id), ...policy })
  },

  /** Optimistic replace; throws ConditionFailedError when gone or at another version. */
  save(db: Db, policy: CustomPolicy, expectedVersion: number): Promise<CustomPolicy> {
    return saveVersioned(
      db,
      keys.customPolicy(policy.organization_id, policy.id),
      policy,
      expectedVersion
    )
  },

  /** Deletes the policy (at `expectedVersion` when given); false when there was none to delete. */
  async remove(
    db: Db,
    orgId: string,
    policyId: string,
    expectedVersion?: number
  ): Promise<boolean> {
    try {
      await db.delete(
        keys.customPolicy(orgId, policyId),
        expectedVersion === undefined
          ? { expression: 'attribute_exists(PK)' }
          : {
              expression: 'attribute_exists(PK) AND #version = :expected',
              names: { '#version': 'version' },
              values: { ':expected': expectedVersion },
            }
      )
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },
}
