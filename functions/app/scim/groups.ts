import type { Filter } from 'scim2-parse-filter'
import { parse } from 'scim2-parse-filter'
import { z } from 'zod'
import type { ServiceContext } from '../../domain/context.js'
import {
  addGroupMember,
  allGroupMembers,
  createGroup,
  deleteGroup,
  getGroup,
  groupByName,
  groupsByExternalId,
  removeGroupMember,
  requireMembers,
  scanGroups,
  setGroupMembers,
  updateGroup,
} from '../../domain/groups.js'
import { AppError, staleVersion } from '../../lib/errors.js'
import { idLength } from '../../lib/ids.js'
import type { Group } from '../../model/index.js'
import { badRequest, scimValidationError } from './errors.js'
import { describeFilterError, type FilterableAttributes } from './filter.js'
import { applyPatch, nameMap, type PatchOperation } from './patch.js'
import { unqualifiedOperations, unqualifiedResource } from './qualified.js'
import { GROUP_SCHEMA } from './schemas.js'
import type { SearchableResource } from './search.js'
import { weakEtag } from './users.js'

/**
 * SCIM Groups are the organization's groups; their members are direct member ids. Nested
 * groups (subgroups) are not exposed through SCIM and are left alone by it.
 */

export type ScimGroup = Record<string, unknown> & { id: string }

/** maxLength: what the write side accepts (GroupInput), so a longer value can match nothing. */
const GROUP_FILTER_ATTRIBUTES: FilterableAttributes = {
  id: { type: 'string', caseExact: true, maxLength: idLength('group') },
  externalid: { type: 'string', caseExact: true, maxLength: 256 },
  displayname: { type: 'string', maxLength: 200 },
  'meta.created': { type: 'dateTime' },
  'meta.lastmodified': { type: 'dateTime' },
}

const GROUP_NAMES = nameMap(['id', 'externalId', 'displayName', 'members', 'schemas'])

interface MemberRef {
  id: string
  name: string
}

export function groupResource(
  group: Group,
  members: MemberRef[] | undefined,
  base: string
): ScimGroup {
  return {
    schemas: [GROUP_SCHEMA],
    id: group.id,
    ...(group.external_id !== null ? { externalId: group.external_id } : {}),
    displayName: group.name,
    ...(members
      ? {
          members: members.map((member) => ({
            value: member.id,
            $ref: `${base}/Users/${member.id}`,
            display: member.name,
            type: 'User',
          })),
        }
      : {}),
    meta: {
      resourceType: 'Group',
      created: group.created_at,
      lastModified: group.updated_at,
      version: weakEtag(group.version),
      location: `${base}/Groups/${group.id}`,
    },
  }
}

async function membersOf(ctx: ServiceContext, organizationId: string, groupId: string) {
  const members = await allGroupMembers(ctx, organizationId, groupId)
  return members.map((member) => ({ id: member.id, name: member.name }))
}

export async function getScimGroup(
  ctx: ServiceContext,
  organizationId: string,
  base: string,
  id: string,
  withMembers: boolean
): Promise<ScimGroup> {
  const group = await getGroup(ctx, organizationId, id)
  const members = withMembers ? await membersOf(ctx, organizationId, id) : undefined
  return groupResource(group, members, base)
}

/**
 * Groups in a filtered list, found by name, externalId or id, else by a scan. Members are
 * read only for the groups of the page asked for, and not at all with
 * `excludedAttributes=members` (as Entra asks).
 */
export const SCIM_GROUPS: SearchableResource<Group> = {
  schema: GROUP_SCHEMA,
  attributes: GROUP_FILTER_ATTRIBUTES,
  byKey: {
    displayname: async (ctx, organizationId, name) => {
      const group = await groupByName(ctx, organizationId, name)
      return group ? [group] : []
    },
    externalid: groupsByExternalId,
    id: async (ctx, organizationId, id) => {
      const group = await getGroup(ctx, organizationId, id).catch(ignoreNotFound)
      return group ? [group] : []
    },
  },
  idOf: (group) => group.id,
  scan: scanGroups,
  plural: 'groups',
  keyedHint: 'displayName, externalId or id',
  representation: async () => (group) => groupResource(group, undefined, ''),
}

export async function representGroups(
  ctx: ServiceContext,
  organizationId: string,
  base: string,
  groups: Group[],
  withMembers: boolean
): Promise<ScimGroup[]> {
  const resources: ScimGroup[] = []
  for (const group of groups) {
    const members = withMembers ? await membersOf(ctx, organizationId, group.id) : undefined
    resources.push(groupResource(group, members, base))
  }
  return resources
}

function ignoreNotFound(error: unknown): undefined {
  if (error instanceof AppError && error.type === 'not_found') return undefined
  throw error
}

// ----- Input ---------------------------------------------------------------------------------

const MemberValue = z.object({
  value: z.string().trim().min(1).max(100),
  type: z.string().optional(),
  display: z.unknown().optional(),
  $ref: z.unknown().optional(),
})

const MemberValues = z.array(MemberValue).max(10_000)

const GroupInput = z.object({
  displayName: z.string().trim().min(1).max(200),
  externalId: z.string().trim().min(1).max(256).nullable().optional(),
  members: MemberValues.nullable().optional(),
})

/** Member ids of SCIM member values; a member of type Group (nesting) is refused. */
function memberIds(values: z.infer<typeof MemberValues>): string[] {
  for (const value of values) {
    if (value.type !== undefined && value.type.toLowerCase() !== 'user') {
      throw badRequest(
        'invalidValue',
        `Only users can be members through SCIM (got type '${value.type}'); nest groups with the Admin API.`
      )
    }
  }
  return [...new Set(values.map((value) => value.value))]
}

function parseMemberValues(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value]
  const parsed = MemberValues.safeParse(list)
  if (!parsed.success) throw scimValidationError(parsed.error)
  return memberIds(parsed.data)
}

/** Unknown member ids are a bad value in a group request (the group itself exists). */
async function requireMemberValues(ctx: ServiceContext, organizationId: string, ids: string[]) {
  try {
    await requireMembers(ctx, organizationId, ids)
  } catch (error) {
    if (error instanceof AppError && error.type === 'not_found') {
      throw badRequest('invalidValue', `${error.message} Members must be existing users.`)
    }
    throw error
  }
}

function parseGroup(body: unknown) {
  const parsed = GroupInput.safeParse(unqualifiedResource(body, GROUP_SCHEMA))
  if (!parsed.success) throw scimValidationError(parsed.error)
  return parsed.data
}

// ----- Changes -------------------------------------------------------------------------------

export async function createScimGroup(
  ctx: ServiceContext,
  organizationId: string,
  base: string,
  body: unknown
): Promise<ScimGroup> {
  const input = parseGroup(body)
  const ids = memberIds(input.members ?? [])
  await requireMemberValues(ctx, organizationId, ids)
  const group = await createGroup(ctx, organizationId, {
    name: input.displayName,
    external_id: input.externalId ?? null,
    scim_managed: true,
  })
  for (const id of ids) await addGroupMember(ctx, organizationId, group.id, id)
  return getScimGroup(ctx, organizationId, base, group.id, true)
}

/** PUT: name, externalId and the member set are replaced (members absent → none). */
export async function replaceScimGroup(
  ctx: ServiceContext,
  organizationId: string,
  base: string,
  id: string,
  body: unknown,
  expectedVersion: number | undefined
): Promise<ScimGroup> {
  const input = parseGroup(body)
  const ids = memberIds(input.members ?? [])
  await requireMemberValues(ctx, organizationId, ids)
  await updateGroup(
    ctx,
    organizationId,
    id,
    { name: input.displayName, external_id: input.externalId ?? null, scim_managed: true },
    expectedVersion
  )
  await setGroupMembers(ctx, organizationId, id, ids)
  return getScimGroup(ctx, organizationId, base, id, true)
}

type MemberChange =
  | { kind: 'add'; ids: string[] }
  | { kind: 'remove'; ids: string[] }
  | { kind: 'set'; ids: string[] }

/** The ids named by a `members[…]` path: `value eq "…"`, or several joined with `or`. */
function idsOfValueFilter(text: string): string[] {
  let filter: Filter
  try {
    filter = parse(text)
  } catch (error) {
    throw badRequest('invalidFilter', `In the path: ${describeFilterError(text, error)}`)
  }
  const collect = (node: Filter): string[] => {
    if (node.op === 'or') return node.filters.flatMap(collect)
    if (node.op === 'eq' && node.attrPath.toLowerCase() === 'value') {
      if (typeof node.compValue === 'string') return [node.compValue]
    }
    throw badRequest(
      'invalidFilter',
      'A members path may filter only by value eq "<id>" (or several with or).'
    )
  }
  return collect(filter)
}

/** Splits PATCH operations into member changes (in order) and the rest (attributes). */
function splitOperations(operations: PatchOperation[]) {
  const memberChanges: MemberChange[] = []
  const attributeOperations: PatchOperation[] = []
  const addMemberChange = (op: PatchOperation['op'], value: unknown) => {
    if (op === 'remove') {
      memberChanges.push(
        value === undefined
          ? { kind: 'set', ids: [] }
          : { kind: 'remove', ids: parseMemberValues(value) }
      )
    } else {
      memberChanges.push({ kind: op === 'add' ? 'add' : 'set', ids: parseMemberValues(value) })
    }
  }
  for (const operation of operations) {
    const path = operation.path
    if (path !== undefined && /^members\b/i.test(path)) {
      const filtered = /^members\[(.+)\]$/is.exec(path)
      if (path.toLowerCase() === 'members') {
        addMemberChange(operation.op, operation.value)
      } else if (filtered && operation.op === 'remove') {
        memberChanges.push({ kind: 'remove', ids: idsOfValueFilter(filtered[1]!) })
      } else {
        throw badRequest(
          'invalidPath',
          `'${path}' is not supported: use path "members" or remove with members[value eq "<id>"].`
        )
      }
      continue
    }
    if (path === undefined && operation.value && typeof operation.value === 'object') {
      const entries = Object.entries(operation.value as Record<string, unknown>)
      const members = entries.find(([key]) => key.toLowerCase() === 'members')
      const rest = entries.filter(([key]) => key.toLowerCase() !== 'members')
      if (members) addMemberChange(operation.op, members[1])
      if (rest.length > 0) {
        attributeOperations.push({ ...operation, value: Object.fromEntries(rest) })
      }
      continue
    }
    attributeOperations.push(operation)
  }
  return { memberChanges, attributeOperations }
}

/**
 * PATCH: attribute changes (rename, externalId) through updateGroup, then member changes in
 * order through the group membership functions. Member ids are checked before anything
 * changes; removing a user who is not a member succeeds (the desired state holds).
 */
export async function patchScimGroup(
  ctx: ServiceContext,
  organizationId: string,
  id: string,
  operations: PatchOperation[],
  expectedVersion: number | undefined
): Promise<void> {
  const { memberChanges, attributeOperations } = splitOperations(
    unqualifiedOperations(operations, GROUP_SCHEMA)
  )
  const added = memberChanges.flatMap((change) => (change.kind === 'remove' ? [] : change.ids))
  await requireMemberValues(ctx, organizationId, [...new Set(added)])
  // The attribute changes are computed from the group as read and saved only if it is still
  // at that version; without If-Match a lost race is retried on fresh data.
  for (let attempt = 1; ; attempt++) {
    const group = await getGroup(ctx, organizationId, id)
    if (expectedVersion !== undefined && group.version !== expectedVersion) {
      throw staleVersion('group', group.version, expectedVersion)
    }
    let patch: { name?: string; external_id?: string | null } = {}
    if (attributeOperations.length > 0) {
      const { meta, ...resource } = groupResource(group, undefined, '')
      const input = parseGroup(applyPatch(resource, attributeOperations, GROUP_NAMES))
      patch = { name: input.displayName, external_id: input.externalId ?? null }
    }
    try {
      await updateGroup(ctx, organizationId, id, { ...patch, scim_managed: true }, group.version)
      break
    } catch (error) {
      const lostRace = error instanceof AppError && error.type === 'precondition_failed'
      if (!lostRace || expectedVersion !== undefined || attempt >= 5) throw error
    }
  }
  for (const change of memberChanges) {
    if (change.kind === 'set') {
      await setGroupMembers(ctx, organizationId, id, change.ids)
      continue
    }
    for (const memberId of change.ids) {
      if (change.kind === 'add') {
        await addGroupMember(ctx, organizationId, id, memberId)
      } else {
        await removeGroupMember(ctx, organizationId, id, memberId).catch(ignoreNotFound)
      }
    }
  }
}

export async function deleteScimGroup(
  ctx: ServiceContext,
  organizationId: string,
  id: string,
  expectedVersion: number | undefined
): Promise<void> {
  await deleteGroup(ctx, organizationId, id, expectedVersion)
}
