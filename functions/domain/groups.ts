import { AppError, conflict, duplicate, notFound } from '../lib/errors.js'
import { MAX_NESTING_DEPTH, walkNesting } from '../lib/group-nesting.js'
import { newId } from '../lib/ids.js'
import type { Group, GroupMembership, Member, OrgRole } from '../model/index.js'
import { uniqueClaims } from '../store/claims.js'
import {
  groups,
  MAX_GROUPS_PER_MEMBER,
  MAX_PARENTS_PER_GROUP,
  MAX_SUBGROUPS_PER_GROUP,
  memberships,
  type StoredGroup,
} from '../store/groups.js'
import { members } from '../store/members.js'
import type { Page, PageRequest } from '../store/pagination.js'
import { revisions } from '../store/revisions.js'
import { removeAllGrantsOf } from './access.js'
import { recordAudit } from './audit.js'
import { leaseExpired, withLock } from './concurrency.js'
import type { ServiceContext } from './context.js'
import { updateVersioned } from './versioning.js'

const NAME_CLAIM = 'group-name'
const NESTING_LOCK = 'group-nesting'

/** Group names are unique per organization regardless of case. */
export function groupNameKey(name: string): string {
  return name.normalize('NFC').toLowerCase()
}

export interface NewGroup {
  name: string
  org_role?: OrgRole | null | undefined
  external_id?: string | null | undefined
  scim_managed?: boolean | undefined
}

export interface GroupPatch {
  name?: string | undefined
  org_role?: OrgRole | null | undefined
  external_id?: string | null | undefined
  scim_managed?: boolean | undefined
}

const PATCHABLE = ['name', 'org_role', 'external_id', 'scim_managed'] as const

async function requireGroup(
  ctx: ServiceContext,
  organizationId: string,
  groupId: string,
  param = 'id'
): Promise<Group> {
  const stored = await groups.find(ctx.db, organizationId, groupId)
  if (stored?.state !== 'active') throw notFound('group', groupId, param)
  return stored.group
}

/**
 * Claims a group name for `groupId`. A claim held by a group that no longer has that name
 * (a crashed create or rename) is taken over once its lease ran out; a claim held by a group
 * being deleted is released by finishing that deletion.
 */
async function claimGroupName(
  ctx: ServiceContext,
  organizationId: string,
  name: string,
  groupId: string
): Promise<void> {
  const value = groupNameKey(name)
  for (let attempt = 0; attempt < 5; attempt++) {
    const holder = await uniqueClaims.claim(
      ctx.db,
      organizationId,
      NAME_CLAIM,
      value,
      groupId,
      ctx.clock.now()
    )
    if (!holder || holder.owner_id === groupId) return
    const owner = await groups.find(ctx.db, organizationId, holder.owner_id)
    const ownerHasName = owner !== undefined && groupNameKey(owner.group.name) === value
    if (ownerHasName && owner.state === 'deleting') {
      await finishGroupDeletion(ctx, organizationId, owner.group.id)
      continue
    }
    if (ownerHasName) throw duplicate(`A group named '${name}' already exists.`, 'name')
    if (!leaseExpired(holder.claimed_at, ctx.clock.now())) {
      throw conflict(`A group named '${name}' is being created or renamed; retry shortly.`, 'name')
    }
    await uniqueClaims.takeOver(
      ctx.db,
      organizationId,
      NAME_CLAIM,
      value,
      holder,
      groupId,
      ctx.clock.now()
    )
  }
  throw conflict(`The group name '${name}' is contended; retry shortly.`, 'name')
}

export async function createGroup(
  ctx: ServiceContext,
  organizationId: string,
  input: NewGroup
): Promise<Group> {
  const now = ctx.clock.now()
  const at = now.toISOString()
  const group: Group = {
    id: newId('group', now),
    object: 'group',
    organization_id: organizationId,
    name: input.name,
    org_role: input.org_role ?? null,
    external_id: input.external_id ?? null,
    scim_managed: input.scim_managed ?? false,
    parent_group_ids: [],
    subgroup_ids: [],
    created_at: at,
    updated_at: at,
    version: 1,
  }
  await claimGroupName(ctx, organizationId, group.name, group.id)
  const { parent_group_ids, subgroup_ids, ...record } = group
  try {
    await groups.create(ctx.db, record)
  } catch (error) {
    await uniqueClaims
      .release(ctx.db, organizationId, NAME_CLAIM, groupNameKey(group.name), group.id)
      .catch(() => undefined)
    throw error
  }
  await recordAudit(ctx, organizationId, {
    event_type: 'group.created',
    target: { type: 'group', id: group.id },
    after: group,
  })
  return group
}

export function getGroup(ctx: ServiceContext, organizationId: string, groupId: string) {
  return requireGroup(ctx, organizationId, groupId)
}

export function listGroups(ctx: ServiceContext, organizationId: string, page: PageRequest) {
  return groups.list(ctx.db, organizationId, page)
}

/** The active group with a name, any case (one GetItem on the name claim, one on the group). */
export async function groupByName(
  ctx: ServiceContext,
  organizationId: string,
  name: string
): Promise<Group | undefined> {
  const claim = await uniqueClaims.get(ctx.db, organizationId, NAME_CLAIM, groupNameKey(name))
  if (!claim) return undefined
  const stored = await groups.find(ctx.db, organizationId, claim.owner_id)
  return stored?.state === 'active' && groupNameKey(stored.group.name) === groupNameKey(name)
    ? stored.group
    : undefined
}

/** Active groups with an externalId (GSI1 candidates confirmed by consistent reads). */
export async function groupsByExternalId(
  ctx: ServiceContext,
  organizationId: string,
  externalId: string
): Promise<Group[]> {
  const ids = await groups.idsByExternalId(ctx.db, organizationId, externalId)
  const found = await groups.findMany(ctx.db, organizationId, ids)
  return [...found.values()]
    .filter((stored) => stored.state === 'active' && stored.group.external_id === externalId)
    .map((stored) => stored.group)
    .sort((a, b) => (a.id < b.id ? -1 : 1))
}

/** Active groups by id; absent or deleted ones are left out. */
export async function findGroups(
  ctx: ServiceContext,
  organizationId: string,
  groupIds: string[]
): Promise<Map<string, Group>> {
  return groups.parentsOf(ctx.db, organizationId, groupIds)
}

/** The organization's active groups in creation order, at most `max` (whole-org reads). */
export function scanGroups(ctx: ServiceContext, organizationId: string, max: number) {
  return groups.scan(ctx.db, organizationId, max)
}

/** Rename (the new name claimed first, the old released after) and/or change the org role. */
export async function updateGroup(
  ctx: ServiceContext,
  organizationId: string,
  groupId: string,
  patch: GroupPatch,
  expectedVersion?: number
): Promise<Group> {
  const current = await requireGroup(ctx, organizationId, groupId)
  const renaming =
    patch.name !== undefined && groupNameKey(patch.name) !== groupNameKey(current.name)
  if (renaming) await claimGroupName(ctx, organizationId, patch.name!, groupId)
  let result: { before: Group; after: Group; changed: boolean }
  try {
    result = await updateVersioned<Group>({
      load: async () => {
        const stored = await groups.find(ctx.db, organizationId, groupId)
        return stored?.state === 'active' ? stored.group : undefined
      },
      missing: () => notFound('group', groupId, 'id'),
      expectedVersion,
      apply: (group) => {
        const next = { ...group }
        for (const field of PATCHABLE) {
          if (patch[field] !== undefined) Object.assign(next, { [field]: patch[field] })
        }
        if (PATCHABLE.every((field) => next[field] === group[field])) return undefined
        return { ...next, updated_at: ctx.clock.now().toISOString() }
      },
      save: async (next, version) => ({
        ...next,
        ...(await groups.save(ctx.db, next, version)),
      }),
    })
  } catch (error) {
    if (renaming) {
      await uniqueClaims.release(
        ctx.db,
        organizationId,
        NAME_CLAIM,
        groupNameKey(patch.name!),
        groupId
      )
    }
    throw error
  }
  if (
    renaming &&
    result.changed &&
    groupNameKey(result.before.name) !== groupNameKey(result.after.name)
  ) {
    await uniqueClaims.release(
      ctx.db,
      organizationId,
      NAME_CLAIM,
      groupNameKey(result.before.name),
      groupId
    )
  }
  if (result.changed) {
    await recordAudit(ctx, organizationId, {
      event_type: 'group.updated',
      target: { type: 'group', id: groupId },
      before: result.before,
      after: result.after,
    })
  }
  return result.after
}

/**
 * Deletes a group: it is first marked `deleting` (from then on it grants nothing and is gone
 * for the API), then its memberships, nesting edges and grants are removed, then its name and
 * the group. A crash half-way is finished by retrying the DELETE (or by creating a group
 * with the same name).
 */
export async function deleteGroup(
  ctx: ServiceContext,
  organizationId: string,
  groupId: string,
  expectedVersion?: number
): Promise<{ object: 'group.deleted'; id: string; deleted: true }> {
  const stored = await groups.find(ctx.db, organizationId, groupId)
  if (!stored) throw notFound('group', groupId, 'id')
  if (stored.state === 'active') {
    // Marks the group `deleting` unless a concurrent DELETE did (then this one helps finish).
    const result = await updateVersioned<Group>({
      load: async () => {
        const current = await groups.find(ctx.db, organizationId, groupId)
        return current?.state === 'active' ? current.group : undefined
      },
      missing: () => new GroupGone(),
      expectedVersion,
      apply: (group) => ({ ...group, updated_at: ctx.clock.now().toISOString() }),
      save: async (next, version) => ({
        ...next,
        ...(await groups.save(ctx.db, next, version, 'deleting')),
      }),
    }).catch((error: unknown) => {
      if (error instanceof GroupGone) return undefined
      throw error
    })
    if (result) {
      await recordAudit(ctx, organizationId, {
        event_type: 'group.deleted',
        target: { type: 'group', id: groupId },
        before: result.before,
      })
    }
  }
  await finishGroupDeletion(ctx, organizationId, groupId)
  return { object: 'group.deleted', id: groupId, deleted: true }
}

class GroupGone extends Error {}

async function finishGroupDeletion(ctx: ServiceContext, organizationId: string, groupId: string) {
  const stored = await groups.find(ctx.db, organizationId, groupId)
  if (stored?.state !== 'deleting') return
  const { group } = stored
  for (const memberId of await memberships.allMemberIdsOf(ctx.db, organizationId, groupId)) {
    await endMembership(ctx, organizationId, groupId, memberId, 'listing')
  }
  for (const childId of group.subgroup_ids) {
    await groups.removeParent(ctx.db, organizationId, childId, groupId)
  }
  for (const parentId of group.parent_group_ids) {
    await groups.removeSubgroup(ctx.db, organizationId, parentId, groupId)
  }
  if (group.subgroup_ids.length > 0 || group.parent_group_ids.length > 0) {
    // The nesting edges above are not audited one by one; reads cached since the deletion's
    // audit (decision facts, Admin reads of the other groups) must not outlive them.
    await revisions.bump(ctx.db, organizationId)
  }
  await removeAllGrantsOf(ctx, organizationId, { type: 'group', id: groupId })
  // The claim before the item, as for members: a retry finds the item and finishes.
  await uniqueClaims.release(ctx.db, organizationId, NAME_CLAIM, groupNameKey(group.name), groupId)
  await groups.remove(ctx.db, organizationId, groupId)
}

// ----- Members of a group ------------------------------------------------------------------

/**
 * Adds a member to a group: the listing item first, then the member's own set (which grants).
 * Both ends are checked again afterwards, so a concurrent removal or deletion wins cleanly.
 */
export async function addGroupMember(
  ctx: ServiceContext,
  organizationId: string,
  groupId: string,
  memberId: string
): Promise<{ membership: GroupMembership; created: boolean }> {
  await requireGroup(ctx, organizationId, groupId)
  const stored = await members.find(ctx.db, organizationId, memberId)
  if (stored?.state !== 'ready') throw notFound('member', memberId, 'member_id')
  const existing = await memberships.get(ctx.db, organizationId, groupId, memberId)
  const alreadyMember = existing !== undefined && stored.groupIds.includes(groupId)
  const membership = existing ?? {
    object: 'group_membership' as const,
    group_id: groupId,
    member_id: memberId,
    created_at: ctx.clock.now().toISOString(),
  }
  await memberships.putListing(ctx.db, organizationId, membership)
  if (!(await memberships.addToMember(ctx.db, organizationId, memberId, groupId))) {
    const again = await members.find(ctx.db, organizationId, memberId)
    if (!again?.groupIds.includes(groupId)) {
      await memberships.removeListing(ctx.db, organizationId, groupId, memberId)
    }
    if (again?.state !== 'ready') throw notFound('member', memberId, 'member_id')
    throw conflict(
      `A member can be in at most ${MAX_GROUPS_PER_MEMBER} groups directly.`,
      'member_id'
    )
  }
  const group = await groups.find(ctx.db, organizationId, groupId)
  if (group?.state !== 'active') {
    await memberships.removeFromMember(ctx.db, organizationId, memberId, groupId)
    await memberships.removeListing(ctx.db, organizationId, groupId, memberId)
    throw notFound('group', groupId, 'id')
  }
  if (!alreadyMember) {
    await touchGroup(ctx, organizationId, groupId)
    await recordAudit(ctx, organizationId, {
      event_type: 'group.member_added',
      target: { type: 'group', id: groupId },
      after: { group_id: groupId, member_id: memberId },
    })
  }
  return { membership, created: !alreadyMember }
}

/** Removes a member from a group: their own set first (access ends), then the listing. */
export async function removeGroupMember(
  ctx: ServiceContext,
  organizationId: string,
  groupId: string,
  memberId: string
): Promise<void> {
  await requireGroup(ctx, organizationId, groupId)
  const direct = await memberships.directGroupsOf(ctx.db, organizationId, memberId)
  const listing = await memberships.get(ctx.db, organizationId, groupId, memberId)
  if (!direct?.includes(groupId) && !listing) {
    throw notFound(`member of group ${groupId}`, memberId, 'member_id')
  }
  await endMembership(ctx, organizationId, groupId, memberId, 'listing')
  await touchGroup(ctx, organizationId, groupId)
}

/**
 * A group's direct members are part of what its `version` (ETag, SCIM `meta.version`) and
 * `updated_at` cover, so a client holding a version cannot overwrite membership changed since.
 * A group deleted meanwhile has no version left to change.
 */
async function touchGroup(ctx: ServiceContext, organizationId: string, groupId: string) {
  try {
    await updateVersioned<Group>({
      load: async () => {
        const stored = await groups.find(ctx.db, organizationId, groupId)
        return stored?.state === 'active' ? stored.group : undefined
      },
      missing: () => notFound('group', groupId, 'id'),
      apply: (group) => ({ ...group, updated_at: ctx.clock.now().toISOString() }),
      save: async (next, version) => ({ ...next, ...(await groups.save(ctx.db, next, version)) }),
    })
  } catch (error) {
    if (!(error instanceof AppError && error.type === 'not_found')) throw error
  }
}

/**
 * Ends a membership and audits it. Both ends go; the one a retry finds the membership by is
 * removed last: the group's listing (removing a member from a group, deleting a group: access
 * ends first) or the member's own set (removing a member: the cascade walks that set).
 */
export async function endMembership(
  ctx: ServiceContext,
  organizationId: string,
  groupId: string,
  memberId: string,
  keepLast: 'listing' | 'member'
): Promise<void> {
  const removeSet = () => memberships.removeFromMember(ctx.db, organizationId, memberId, groupId)
  const removeListing = () => memberships.removeListing(ctx.db, organizationId, groupId, memberId)
  if (keepLast === 'listing') {
    await removeSet()
    await removeListing()
  } else {
    await removeListing()
    await removeSet()
  }
  await recordAudit(ctx, organizationId, {
    event_type: 'group.member_removed',
    target: { type: 'group', id: groupId },
    before: { group_id: groupId, member_id: memberId },
  })
}

/** Every member listed in a group who exists (ready), in id order (one Query, BatchGets). */
export async function allGroupMembers(
  ctx: ServiceContext,
  organizationId: string,
  groupId: string
): Promise<Member[]> {
  await requireGroup(ctx, organizationId, groupId)
  const listed = await memberships.allMemberIdsOf(ctx.db, organizationId, groupId)
  const found = await members.findMany(ctx.db, organizationId, listed)
  return [...found.values()]
    .filter((stored) => stored.state === 'ready')
    .map((stored) => stored.member)
    .sort((a, b) => (a.id < b.id ? -1 : 1))
}

/**
 * Makes `memberIds` the group's direct members: those missing are added and the others
 * removed, each through the same functions as single changes (so each is audited). Every id
 * must be a member (404 naming the first that is not) before anything changes.
 */
export async function setGroupMembers(
  ctx: ServiceContext,
  organizationId: string,
  groupId: string,
  memberIds: string[]
): Promise<{ added: string[]; removed: string[] }> {
  const wanted = [...new Set(memberIds)]
  await requireMembers(ctx, organizationId, wanted)
  const current = new Set(
    (await allGroupMembers(ctx, organizationId, groupId)).map((member) => member.id)
  )
  const added = wanted.filter((id) => !current.has(id))
  const removed = [...current].filter((id) => !wanted.includes(id))
  for (const memberId of added) await addGroupMember(ctx, organizationId, groupId, memberId)
  for (const memberId of removed) {
    await endMembership(ctx, organizationId, groupId, memberId, 'listing')
  }
  if (removed.length > 0) await touchGroup(ctx, organizationId, groupId)
  return { added, removed }
}

/** Every id must be a ready member of the organization; 404 names the first that is not. */
export async function requireMembers(
  ctx: ServiceContext,
  organizationId: string,
  memberIds: string[]
): Promise<void> {
  const found = await members.findMany(ctx.db, organizationId, memberIds)
  const missing = memberIds.find((id) => found.get(id)?.state !== 'ready')
  if (missing !== undefined) throw notFound('member', missing, 'member_id')
}

/** The group's direct members (nested groups' members are not repeated here). */
export async function listGroupMembers(
  ctx: ServiceContext,
  organizationId: string,
  groupId: string,
  page: PageRequest
): Promise<Page<Member>> {
  await requireGroup(ctx, organizationId, groupId)
  const listed = await memberships.listOf(ctx.db, organizationId, groupId, page)
  const found = await members.findMany(
    ctx.db,
    organizationId,
    listed.data.map((m) => m.member_id)
  )
  const data = listed.data.flatMap((m) => {
    const stored = found.get(m.member_id)
    return stored?.state === 'ready' ? [stored.member] : []
  })
  return { ...listed, data }
}

// ----- Nesting -----------------------------------------------------------------------------

/**
 * The groups reachable from `start` following `next` (parents upward or subgroups downward),
 * and the longest chain from `start` in groups (start included). One BatchGet per level.
 */
async function reach(
  ctx: ServiceContext,
  organizationId: string,
  start: StoredGroup,
  next: (group: Group) => string[]
): Promise<{ ids: Set<string>; longest: number }> {
  const walked = await walkNesting(
    next(start.group),
    (ids) => groups.parentsOf(ctx.db, organizationId, ids),
    next,
    [start.group.id]
  )
  const found = new Map<string, Group>([[start.group.id, start.group]])
  for (const [id, { node }] of walked) found.set(id, node)
  const memo = new Map<string, number>()
  const longest = (id: string, onPath: Set<string>): number => {
    const known = memo.get(id)
    if (known !== undefined) return known
    const group = found.get(id)
    if (!group || onPath.has(id)) return 0
    onPath.add(id)
    const below = next(group).map((child) => longest(child, onPath))
    onPath.delete(id)
    const value = 1 + Math.max(0, ...below)
    memo.set(id, value)
    return value
  }
  return { ids: new Set(found.keys()), longest: longest(start.group.id, new Set()) }
}

/**
 * Nests `childId` inside `parentId`: members of the child become members of the parent.
 * Serialised per organization (a lease), because two concurrent nestings could each be fine
 * alone and form a cycle together. A cycle → 409; a chain longer than MAX_NESTING_DEPTH → 409.
 */
export async function addSubgroup(
  ctx: ServiceContext,
  organizationId: string,
  parentId: string,
  childId: string
): Promise<Group> {
  if (parentId === childId) throw conflict('A group cannot contain itself.', 'group_id')
  await withLock(ctx, organizationId, NESTING_LOCK, async () => {
    const found = await groups.findMany(ctx.db, organizationId, [parentId, childId])
    const parent = found.get(parentId)
    const child = found.get(childId)
    if (parent?.state !== 'active') throw notFound('group', parentId, 'id')
    if (child?.state !== 'active') throw notFound('group', childId, 'group_id')
    const alreadyNested = child.group.parent_group_ids.includes(parentId)
    if (!alreadyNested) {
      const up = await reach(ctx, organizationId, parent, (g) => g.parent_group_ids)
      if (up.ids.has(childId)) {
        throw conflict(
          `Nesting ${childId} inside ${parentId} would make a cycle: ${childId} already contains ${parentId}.`,
          'group_id'
        )
      }
      const down = await reach(ctx, organizationId, child, (g) => g.subgroup_ids)
      if (up.longest + down.longest > MAX_NESTING_DEPTH) {
        throw conflict(
          `Groups may be nested at most ${MAX_NESTING_DEPTH} deep; this would make ${up.longest + down.longest}.`,
          'group_id'
        )
      }
      if (!(await groups.addParent(ctx.db, organizationId, childId, parentId))) {
        const again = await groups.find(ctx.db, organizationId, childId)
        if (again?.state !== 'active') throw notFound('group', childId, 'group_id')
        throw conflict(
          `A group can be nested in at most ${MAX_PARENTS_PER_GROUP} groups.`,
          'group_id'
        )
      }
    }
    if (!(await groups.addSubgroup(ctx.db, organizationId, parentId, childId))) {
      await groups.removeParent(ctx.db, organizationId, childId, parentId)
      // Nothing to audit, but a read between the two writes saw the edge: make it stale.
      if (!alreadyNested) await revisions.bump(ctx.db, organizationId)
      const again = await groups.find(ctx.db, organizationId, parentId)
      if (again?.state !== 'active') throw notFound('group', parentId, 'id')
      throw conflict(
        `A group can contain at most ${MAX_SUBGROUPS_PER_GROUP} subgroups.`,
        'group_id'
      )
    }
    if (!alreadyNested) {
      await recordAudit(ctx, organizationId, {
        event_type: 'group.subgroup_added',
        target: { type: 'group', id: parentId },
        after: { group_id: parentId, subgroup_id: childId },
      })
    }
  })
  return requireGroup(ctx, organizationId, parentId)
}

/** Un-nests: the child's parent edge first (access ends), then the parent's listing copy. */
export async function removeSubgroup(
  ctx: ServiceContext,
  organizationId: string,
  parentId: string,
  childId: string
): Promise<Group> {
  const parent = await requireGroup(ctx, organizationId, parentId)
  const child = await groups.find(ctx.db, organizationId, childId)
  const nested =
    child?.group.parent_group_ids.includes(parentId) || parent.subgroup_ids.includes(childId)
  if (!nested) throw notFound(`subgroup of group ${parentId}`, childId, 'group_id')
  await groups.removeParent(ctx.db, organizationId, childId, parentId)
  await groups.removeSubgroup(ctx.db, organizationId, parentId, childId)
  await recordAudit(ctx, organizationId, {
    event_type: 'group.subgroup_removed',
    target: { type: 'group', id: parentId },
    before: { group_id: parentId, subgroup_id: childId },
  })
  return requireGroup(ctx, organizationId, parentId)
}
