import type { Member, MemberStatus, OrgRole } from '../model/index.js'
import { Collection, saveVersioned } from './collection.js'
import { ConditionFailedError, type Db, type Expression, type Item } from './db.js'
import { keys } from './keys.js'
import type { Page, PageRequest } from './pagination.js'

/**
 * Where a member is in its life. Only `ready` members exist for the API and for decisions;
 * `creating` and `removing` mark a multi-item change in progress, so a crash half-way is
 * visible and can be finished (see docs/access-patterns.md, "member lifecycle").
 */
export type MemberState = 'creating' | 'ready' | 'removing'

/**
 * Profile attributes an identity provider sends that the Admin model does not use (the SCIM
 * enterprise extension: employeeNumber, department, manager…), kept so SCIM reads return them.
 */
export type MemberProfile = Record<string, unknown>

interface MemberInternal extends Item {
  state: MemberState
  /** The member's direct groups, a string set (absent when empty). Authoritative for access. */
  group_ids?: Set<string>
  profile?: MemberProfile
}

/** A member item: the API record plus its lifecycle state, direct groups and profile. */
export interface StoredMember {
  member: Member
  state: MemberState
  groupIds: string[]
  profile: MemberProfile | null
}

const collection = new Collection<Member, MemberInternal>(
  'members',
  keys.member,
  (orgId) => keys.organization(orgId).PK,
  keys.memberPrefix,
  ['state', 'group_ids', 'profile']
)

/**
 * GSI2 places every member under its (org role, status), so "the active admins" is a Query;
 * GSI1 under its externalId when it has one (SCIM `externalId eq "…"`).
 */
function indexKeys(member: Member) {
  return {
    GSI2PK: keys.membersByRole(member.organization_id, member.org_role, member.status),
    GSI2SK: member.id,
    ...(member.external_id
      ? {
          GSI1PK: keys.membersByExternalId(member.organization_id, member.external_id),
          GSI1SK: member.id,
        }
      : {}),
  }
}

/** Fields added after the first release, defaulted for items written before them. */
function withDefaults(member: Member): Member {
  return {
    ...member,
    given_name: member.given_name ?? null,
    family_name: member.family_name ?? null,
    external_id: member.external_id ?? null,
    scim_managed: member.scim_managed ?? false,
  }
}

function toStored(item: Item): StoredMember {
  const groups = item.group_ids as Set<string> | undefined
  return {
    member: withDefaults(collection.toRecord(item)),
    state: item.state as MemberState,
    groupIds: groups ? [...groups].sort() : [],
    profile: (item.profile as MemberProfile | undefined) ?? null,
  }
}

const READY_FILTER: Expression = {
  expression: '#state = :ready',
  names: { '#state': 'state' },
  values: { ':ready': 'ready' },
}

export interface MemberFilter {
  status?: MemberStatus | undefined
}

/** Members of an organization: `ORG#o` / `MEM#m`. */
export const members = {
  async create(
    db: Db,
    member: Member,
    state: MemberState,
    profile: MemberProfile | null = null
  ): Promise<void> {
    await collection.create(db, member.organization_id, member, {
      state,
      ...indexKeys(member),
      ...(profile ? { profile } : {}),
    })
  },

  /**
   * Bulk load of ready members with their direct groups (BatchWriteItem, unconditional): for
   * seeding large organizations (the decision benchmark). Writes no email claims, so only for
   * records known to be new and unique.
   */
  async putMany(db: Db, entries: { member: Member; groupIds: string[] }[]): Promise<void> {
    await db.batchWrite(
      entries.flatMap(({ member, groupIds }) => [
        {
          ...keys.member(member.organization_id, member.id),
          ...member,
          state: 'ready',
          ...indexKeys(member),
          ...(groupIds.length > 0 ? { group_ids: new Set(groupIds) } : {}),
        },
        // The groups' membership listings, as adding a member to a group writes them.
        ...groupIds.map((groupId) => ({
          ...keys.groupMembership(member.organization_id, groupId, member.id),
          object: 'group_membership',
          group_id: groupId,
          member_id: member.id,
          created_at: member.created_at,
        })),
      ]),
      [],
      4
    )
  },

  /** The member item with its state and direct groups (one strongly consistent GetItem). */
  async find(db: Db, orgId: string, memberId: string): Promise<StoredMember | undefined> {
    const item = await db.get(keys.member(orgId, memberId))
    return item ? toStored(item) : undefined
  },

  /** Several members by id (BatchGet); absent ids are missing from the map. */
  async findMany(db: Db, orgId: string, memberIds: string[]): Promise<Map<string, StoredMember>> {
    const unique = [...new Set(memberIds)]
    const items = await db.batchGet(unique.map((id) => keys.member(orgId, id)))
    return new Map(items.map((item) => [item.id as string, toStored(item)]))
  },

  /** Ready members, optionally of one status. */
  async list(
    db: Db,
    orgId: string,
    page: PageRequest,
    filter: MemberFilter = {}
  ): Promise<Page<Member>> {
    const expression: Expression = {
      ...READY_FILTER,
      names: { ...READY_FILTER.names },
      values: { ...READY_FILTER.values },
    }
    if (filter.status) {
      expression.expression += ' AND #status = :status'
      expression.names!['#status'] = 'status'
      expression.values![':status'] = filter.status
    }
    const listed = await collection.list(db, orgId, page, { filter: expression })
    return { ...listed, data: listed.data.map(withDefaults) }
  },

  /**
   * The organization's ready members in id (creation) order, at most `max` of them: for SCIM
   * lists and filters that no key answers. Reads the whole partition range of members.
   */
  async scan(db: Db, orgId: string, max: number): Promise<StoredMember[]> {
    const items = await db.queryAll(
      {
        partition: keys.organization(orgId).PK,
        sort: { prefix: keys.memberPrefix },
        filter: READY_FILTER,
      },
      max
    )
    return items.map(toStored)
  },

  /** Ids of members indexed under an externalId (GSI1, eventually consistent). */
  async idsByExternalId(db: Db, orgId: string, externalId: string): Promise<string[]> {
    const items = await db.queryAll({
      index: 'GSI1',
      partition: keys.membersByExternalId(orgId, externalId),
    })
    return items.map((item) => item.GSI1SK as string)
  },

  /**
   * Optimistic update of the record (and its state); the direct groups are not touched, so a
   * concurrent group change is never overwritten. Throws ConditionFailedError on a lost race.
   */
  save(
    db: Db,
    member: Member,
    expectedVersion: number,
    state: MemberState = 'ready',
    /** A new profile (null removes it); undefined keeps the stored one. */
    profile?: MemberProfile | null
  ): Promise<Member> {
    const remove = [
      ...(member.external_id ? [] : ['GSI1PK', 'GSI1SK']),
      ...(profile === null ? ['profile'] : []),
    ]
    return saveVersioned(
      db,
      keys.member(member.organization_id, member.id),
      member,
      expectedVersion,
      { state, ...indexKeys(member), ...(profile ? { profile } : {}) },
      remove
    )
  },

  /** Ends a creation: `creating` → `ready` (no version change). False if no longer creating. */
  async markReady(db: Db, orgId: string, memberId: string): Promise<boolean> {
    try {
      await db.update(
        keys.member(orgId, memberId),
        {
          expression: 'SET #state = :ready',
          names: { '#state': 'state' },
          values: { ':ready': 'ready' },
        },
        { expression: '#state = :creating', values: { ':creating': 'creating' } }
      )
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },

  async remove(db: Db, orgId: string, memberId: string): Promise<void> {
    await collection.remove(db, orgId, memberId)
  },

  /**
   * Ids of members indexed under an org role and status (GSI2, eventually consistent: callers
   * confirm each candidate with `find` before relying on it).
   */
  async idsByRole(
    db: Db,
    orgId: string,
    orgRole: OrgRole,
    status: MemberStatus,
    limit: number
  ): Promise<string[]> {
    const page = await db.query({
      index: 'GSI2',
      partition: keys.membersByRole(orgId, orgRole, status),
      limit,
    })
    return page.items.map((item) => item.GSI2SK as string)
  },
}
