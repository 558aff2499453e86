import type { Organization } from '../model/index.js'
import { saveVersioned } from './collection.js'
import type { Db } from './db.js'
import { keys } from './keys.js'
import { type Page, type PageRequest, paginate } from './pagination.js'

/** The organization item is its partition's `ORG` row; GSI1 lists all organizations. */
export const organizations = {
  async create(db: Db, organization: Organization): Promise<void> {
    await db.create({
      ...keys.organization(organization.id),
      GSI1PK: keys.organizationsIndex,
      GSI1SK: organization.id,
      ...organization,
    })
  },

  async get(db: Db, orgId: string): Promise<Organization | undefined> {
    const item = await db.get(keys.organization(orgId))
    return item ? toOrganization(item) : undefined
  },

  list(db: Db, page: PageRequest): Promise<Page<Organization>> {
    return paginate(
      db,
      'organizations',
      { index: 'GSI1', partition: keys.organizationsIndex },
      page,
      toOrganization
    )
  },

  /** Optimistic update: fails with ConditionFailedError if the version moved. */
  save(db: Db, organization: Organization, expectedVersion: number): Promise<Organization> {
    return saveVersioned(db, keys.organization(organization.id), organization, expectedVersion)
  },

  async remove(db: Db, orgId: string): Promise<void> {
    await db.delete(keys.organization(orgId))
  },
}

function toOrganization(item: Record<string, unknown>): Organization {
  return {
    id: item.id as string,
    object: 'organization',
    name: item.name as string,
    currency: item.currency as string,
    settings: item.settings as Organization['settings'],
    default_workspace_id: item.default_workspace_id as string,
    created_at: item.created_at as string,
    updated_at: item.updated_at as string,
    version: item.version as number,
  }
}
