import type { Group, GroupMembership } from '../model/index.js'
import { saveVersioned } from './collection.js'
import { ConditionFailedError, type Db, type Item, stripKeys } from './db.js'
import { keys } from './keys.js'
import { type Page, type PageRequest, paginate } from './pagination.js'

/** `deleting` marks a group whose cascade is in progress: it grants nothing any more. */
export type GroupState = 'active' | 'deleting'

/** The stored part of a group that optimistic updates write (not its nesting sets). */
export type GroupRecord = Omit<Group, 'parent_group_ids' | 'subgroup_ids'>

export interface StoredGroup {
  group: Group
  state: GroupState
}

/** At most this many direct groups per member, parents per group and subgroups per group. */
export const MAX_GROUPS_PER_MEMBER = 100
export const MAX_PARENTS_PER_GROUP = 100
export const MAX_SUBGROUPS_PER_GROUP = 1000

function asSortedArray(value: unknown): string[] {
  return value instanceof Set ? [...(value as Set<string>)].sort() : []
}

function toStored(item: Item): StoredGroup {
  const { state, parent_ids, subgroup_ids, ...rest } = stripKeys<Record<string, unknown>>(item)
  const record = rest as unknown as GroupRecord
  return {
    group: {
      ...record,
      // Fields added after the first release, defaulted for items written before them.
      external_id: record.external_id ?? null,
      scim_managed: record.scim_managed ?? false,
      parent_group_ids: asSortedArray(parent_ids),
      subgroup_ids: asSortedArray(subgroup_ids),
    },
    state: state as GroupState,
  }
}

/** GSI1 places a group under its SCIM externalId, when it has one. */
function externalIndex(group: GroupRecord) {
  return group.external_id
    ? {
        GSI1PK: keys.groupsByExternalId(group.organization_id, group.external_id),
        GSI1SK: group.id,
      }
    : {}
}

const ACTIVE_FILTER = {
  expression: '#state = :active',
  names: { '#state': 'state' },
  values: { ':active': 'active' },
}

function recordOf(group: Group | GroupRecord): GroupRecord {
  const { parent_group_ids, subgroup_ids, ...record } = group as Group
  return record
}

const isConditionFailure = (error: unknown) => error instanceof ConditionFailedError

/**
 * Groups of an organization: `ORG#o` / `GRP#g`. Nesting is kept on both ends: `parent_ids` on
 * the child (authoritative: what access is computed from, readable by BatchGet per nesting
 * level) and `subgroup_ids` on the parent (the listing copy). Both are string sets changed with
 * ADD/DELETE, so concurrent edits of different edges never overwrite each other.
 */
export const groups = {
  async create(db: Db, group: GroupRecord): Promise<void> {
    await db.create({
      ...keys.group(group.organization_id, group.id),
      ...group,
      ...externalIndex(group),
      state: 'active',
    })
  },

  /**
   * Bulk load of active groups with the groups they are nested in (BatchWriteItem,
   * unconditional): for seeding large organizations. Writes no name claims or subgroup lists.
   */
  async putMany(db: Db, entries: { group: GroupRecord; parentIds: string[] }[]): Promise<void> {
    await db.batchWrite(
      entries.map(({ group, parentIds }) => ({
        ...keys.group(group.organization_id, group.id),
        ...recordOf(group),
        state: 'active',
        ...(parentIds.length > 0 ? { parent_ids: new Set(parentIds) } : {}),
      })),
      [],
      4
    )
  },

  async find(db: Db, orgId: string, groupId: string): Promise<StoredGroup | undefined> {
    const item = await db.get(keys.group(orgId, groupId))
    return item ? toStored(item) : undefined
  },

  /** Groups by id, one BatchGet (chunks of 100); absent ids are missing from the map. */
  async findMany(db: Db, orgId: string, groupIds: string[]): Promise<Map<string, StoredGroup>> {
    const unique = [...new Set(groupIds)]
    if (unique.length === 0) return new Map()
    const items = await db.batchGet(unique.map((id) => keys.group(orgId, id)))
    return new Map(items.map((item) => [item.id as string, toStored(item)]))
  },

  /**
   * One nesting level of the decision path: the given groups with their `parent_group_ids`
   * (which name the next level) and org roles, in one BatchGet. Groups that are gone or being
   * deleted are left out: they grant nothing.
   */
  async parentsOf(db: Db, orgId: string, groupIds: string[]): Promise<Map<string, Group>> {
    const found = await groups.findMany(db, orgId, groupIds)
    const active = new Map<string, Group>()
    for (const [id, stored] of found) if (stored.state === 'active') active.set(id, stored.group)
    return active
  },

  list(db: Db, orgId: string, page: PageRequest): Promise<Page<Group>> {
    return paginate(
      db,
      `groups:${orgId}`,
      {
        partition: keys.organization(orgId).PK,
        sort: { prefix: keys.groupPrefix },
        filter: ACTIVE_FILTER,
      },
      page,
      (item) => toStored(item).group
    )
  },

  /** The organization's active groups in id order, at most `max` (SCIM lists and filters). */
  async scan(db: Db, orgId: string, max: number): Promise<Group[]> {
    const items = await db.queryAll(
      {
        partition: keys.organization(orgId).PK,
        sort: { prefix: keys.groupPrefix },
        filter: ACTIVE_FILTER,
      },
      max
    )
    return items.map((item) => toStored(item).group)
  },

  /** Ids of groups indexed under an externalId (GSI1, eventually consistent). */
  async idsByExternalId(db: Db, orgId: string, externalId: string): Promise<string[]> {
    const items = await db.queryAll({
      index: 'GSI1',
      partition: keys.groupsByExternalId(orgId, externalId),
    })
    return items.map((item) => item.GSI1SK as string)
  },

  /** Optimistic update of name, org role (and state); nesting sets are left alone. */
  async save(
    db: Db,
    group: Group | GroupRecord,
    expectedVersion: number,
    state: GroupState = 'active'
  ): Promise<GroupRecord> {
    const record = recordOf(group)
    return saveVersioned(
      db,
      keys.group(group.organization_id, group.id),
      record,
      expectedVersion,
      { state, ...externalIndex(record) },
      record.external_id ? [] : ['GSI1PK', 'GSI1SK']
    )
  },

  async remove(db: Db, orgId: string, groupId: string): Promise<void> {
    await db.delete(keys.group(orgId, groupId))
  },

  /**
   * Adds `parentId` to the child's parents (the edge that grants access). False when the child
   * is gone, being deleted or has too many parents.
   */
  async addParent(db: Db, orgId: string, childId: string, parentId: string): Promise<boolean> {
    return setEdit(db, orgId, childId, 'ADD', 'parent_ids', parentId, MAX_PARENTS_PER_GROUP)
  },

  async removeParent(db: Db, orgId: string, childId: string, parentId: string): Promise<void> {
    await setEdit(db, orgId, childId, 'DELETE', 'parent_ids', parentId)
  },

  async addSubgroup(db: Db, orgId: string, parentId: string, childId: string): Promise<boolean> {
    return setEdit(db, orgId, parentId, 'ADD', 'subgroup_ids', childId, MAX_SUBGROUPS_PER_GROUP)
  },

  async removeSubgroup(db: Db, orgId: string, parentId: string, childId: string): Promise<void> {
    await setEdit(db, orgId, parentId, 'DELETE', 'subgroup_ids', childId)
  },
}

/** ADD (only to an active group, under a size cap) or DELETE one id in a group's string set. */
async function setEdit(
  db: Db,
  orgId: string,
  groupId: string,
  operation: 'ADD' | 'DELETE',
  attribute: 'parent_ids' | 'subgroup_ids',
  id: string,
  max?: number
): Promise<boolean> {
  try {
    await db.update(
      keys.group(orgId, groupId),
      {
        expression: `${operation} #set :id`,
        names: { '#set': attribute },
        values: { ':id': new Set([id]) },
      },
      operation === 'ADD'
        ? {
            expression:
              'attribute_exists(PK) AND #state = :active AND ' +
              '(attribute_not_exists(#set) OR size(#set) < :max OR contains(#set, :one))',
            names: { '#state': 'state' },
            values: { ':active': 'active', ':max': max, ':one': id },
          }
        : { expression: 'attribute_exists(PK)' }
    )
    return true
  } catch (error) {
    if (isConditionFailure(error)) return false
    throw error
  }
}

/**
 * Group memberships. The member item's `group_ids` set is authoritative (one GetItem gives a
 * member's direct groups); `ORG#o` / `GMEM#g#m` items list a group's members. Adding writes the
 * listing item first, removing deletes it last, so a crash in between leaves a listed
 * membership that grants nothing, which a retry completes.
 */
export const memberships = {
  /** A member's direct group ids, or undefined when the member does not exist. */
  async directGroupsOf(db: Db, orgId: string, memberId: string): Promise<string[] | undefined> {
    const item = await db.get(keys.member(orgId, memberId))
    if (!item) return undefined
    return asSortedArray(item.group_ids)
  },

  async get(
    db: Db,
    orgId: string,
    groupId: string,
    memberId: string
  ): Promise<GroupMembership | undefined> {
    const item = await db.get(keys.groupMembership(orgId, groupId, memberId))
    return item ? toMembership(item) : undefined
  },

  /** Writes the listing item (kept if it exists). */
  async putListing(db: Db, orgId: string, membership: GroupMembership): Promise<void> {
    try {
      await db.create({
        ...keys.groupMembership(orgId, membership.group_id, membership.member_id),
        ...membership,
      })
    } catch (error) {
      if (!isConditionFailure(error)) throw error
    }
  },

  async removeListing(db: Db, orgId: string, groupId: string, memberId: string): Promise<void> {
    await db.delete(keys.groupMembership(orgId, groupId, memberId))
  },

  /**
   * Adds the group to the member's set: the membership takes effect. False when the member is
   * gone, not ready, or already in MAX_GROUPS_PER_MEMBER groups.
   */
  async addToMember(db: Db, orgId: string, memberId: string, groupId: string): Promise<boolean> {
    try {
      await db.update(
        keys.member(orgId, memberId),
        { expression: 'ADD group_ids :g', values: { ':g': new Set([groupId]) } },
        {
          expression:
            'attribute_exists(PK) AND #state = :ready AND ' +
            '(attribute_not_exists(group_ids) OR size(group_ids) < :max OR contains(group_ids, :one))',
          names: { '#state': 'state' },
          values: { ':ready': 'ready', ':max': MAX_GROUPS_PER_MEMBER, ':one': groupId },
        }
      )
      return true
    } catch (error) {
      if (isConditionFailure(error)) return false
      throw error
    }
  },

  async removeFromMember(db: Db, orgId: string, memberId: string, groupId: string) {
    try {
      await db.update(
        keys.member(orgId, memberId),
        { expression: 'DELETE group_ids :g', values: { ':g': new Set([groupId]) } },
        { expression: 'attribute_exists(PK)' }
      )
    } catch (error) {
      if (!isConditionFailure(error)) throw error
    }
  },

  /** One page of a group's listed members. */
  listOf(
    db: Db,
    orgId: string,
    groupId: string,
    page: PageRequest
  ): Promise<Page<GroupMembership>> {
    return paginate(
      db,
      `group-members:${orgId}:${groupId}`,
      {
        partition: keys.organization(orgId).PK,
        sort: { prefix: keys.groupMembershipPrefix(groupId) },
      },
      page,
      toMembership
    )
  },

  /** Every listed member id of a group (for the group's deletion). */
  async allMemberIdsOf(db: Db, orgId: string, groupId: string): Promise<string[]> {
    const items = await db.queryAll({
      partition: keys.organization(orgId).PK,
      sort: { prefix: keys.groupMembershipPrefix(groupId) },
    })
    return items.map((item) => item.member_id as string)
  },
}

function toMembership(item: Item): GroupMembership {
  return {
    object: 'group_membership',
    group_id: item.group_id as string,
    member_id: item.member_id as string,
    created_at: item.created_at as string,
  }
}
