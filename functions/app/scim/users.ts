import { z } from 'zod'
import type { ServiceContext } from '../../domain/context.js'
import { findGroups } from '../../domain/groups.js'
import {
  createMember,
  findMemberDetails,
  getMemberDetails,
  memberDetailsByEmail,
  membersByExternalId,
  removeMember,
  scanMembers,
  updateMember,
} from '../../domain/members.js'
import { AppError, staleVersion } from '../../lib/errors.js'
import { idLength } from '../../lib/ids.js'
import type { MemberStatus } from '../../model/index.js'
import type { MemberProfile, StoredMember } from '../../store/members.js'
import { badRequest, ScimProblem, scimValidationError } from './errors.js'
import type { FilterableAttributes } from './filter.js'
import { applyPatch, nameMap, type PatchOperation } from './patch.js'
import { unqualifiedOperations, unqualifiedResource } from './qualified.js'
import {
  ENTERPRISE_SCHEMA,
  ENTERPRISE_STRING_ATTRIBUTES,
  MAX_SCAN,
  USER_SCHEMA,
} from './schemas.js'
import { type SearchableResource, searchResources } from './search.js'

/**
 * SCIM Users are the organization's members: userName is the member's email, displayName
 * their name, active their status. Every change goes through the member domain functions,
 * so the Admin API and SCIM are two views of one model under the same rules and audit log.
 */

export type ScimUser = Record<string, unknown> & { id: string }

const ENTERPRISE_LOWER = ENTERPRISE_SCHEMA.toLowerCase()

/** maxLength: what the write side accepts (UserInput), so a longer value can match nothing. */
export const USER_FILTER_ATTRIBUTES: FilterableAttributes = {
  id: { type: 'string', caseExact: true, maxLength: idLength('member') },
  externalid: { type: 'string', caseExact: true, maxLength: 256 },
  username: { type: 'string', maxLength: 320 },
  displayname: { type: 'string', maxLength: 200 },
  name: { type: 'complex' },
  'name.givenname': { type: 'string', maxLength: 200 },
  'name.familyname': { type: 'string', maxLength: 200 },
  'name.formatted': { type: 'string', maxLength: 400 },
  emails: { type: 'complex' },
  'emails.value': { type: 'string', maxLength: 320 },
  'emails.type': { type: 'string' },
  'emails.primary': { type: 'boolean' },
  active: { type: 'boolean' },
  groups: { type: 'complex' },
  'groups.value': { type: 'string', caseExact: true, maxLength: idLength('group') },
  'groups.display': { type: 'string', maxLength: 200 },
  'meta.created': { type: 'dateTime' },
  'meta.lastmodified': { type: 'dateTime' },
  ...Object.fromEntries(
    ENTERPRISE_STRING_ATTRIBUTES.map((name) => [
      `${ENTERPRISE_LOWER}:${name.toLowerCase()}`,
      { type: 'string' as const, maxLength: 256 },
    ])
  ),
  [`${ENTERPRISE_LOWER}:manager.value`]: { type: 'string', caseExact: true, maxLength: 256 },
}

const USER_NAMES = nameMap([
  'id',
  'externalId',
  'userName',
  'name',
  'givenName',
  'familyName',
  'formatted',
  'displayName',
  'emails',
  'value',
  'type',
  'primary',
  'active',
  'groups',
  'schemas',
  'manager',
  ...ENTERPRISE_STRING_ATTRIBUTES,
])

// ----- Representation ----------------------------------------------------------------------

/** The SCIM User of a member; `groupNames` names the member's active groups. */
export function userResource(
  stored: StoredMember,
  base: string,
  groupNames: ReadonlyMap<string, string>
): ScimUser {
  const member = stored.member
  const formatted = [member.given_name, member.family_name].filter(Boolean).join(' ')
  const { [USER_NAME_KEY]: userName, ...enterprise } = stored.profile ?? {}
  const hasEnterprise = Object.keys(enterprise).length > 0
  return {
    schemas: hasEnterprise ? [USER_SCHEMA, ENTERPRISE_SCHEMA] : [USER_SCHEMA],
    id: member.id,
    ...(member.external_id !== null ? { externalId: member.external_id } : {}),
    userName: typeof userName === 'string' ? userName : member.email,
    name: {
      formatted: formatted || member.name,
      ...(member.given_name !== null ? { givenName: member.given_name } : {}),
      ...(member.family_name !== null ? { familyName: member.family_name } : {}),
    },
    displayName: member.name,
    emails: [{ value: member.email, type: 'work', primary: true }],
    active: member.status === 'active',
    groups: stored.groupIds
      .filter((id) => groupNames.has(id))
      .map((id) => ({ value: id, $ref: `${base}/Groups/${id}`, display: groupNames.get(id) })),
    ...(hasEnterprise ? { [ENTERPRISE_SCHEMA]: enterprise } : {}),
    meta: {
      resourceType: 'User',
      created: member.created_at,
      lastModified: member.updated_at,
      version: weakEtag(member.version),
      location: `${base}/Users/${member.id}`,
    },
  }
}

export const weakEtag = (version: number) => `W/"${version}"`

/**
 * Where a userName that is not an email address is kept, in the member's SCIM profile beside
 * the enterprise attributes (whose names are camelCase, so this key never collides). The
 * member's email is then the user's primary email.
 */
const USER_NAME_KEY = 'scim_user_name'

const EmailAddress = z.email().max(320)
const isEmailAddress = (value: string) => EmailAddress.safeParse(value).success

/** Names of the active groups the given members are directly in (one BatchGet per 100). */
async function groupNamesOf(
  ctx: ServiceContext,
  organizationId: string,
  members: StoredMember[]
): Promise<Map<string, string>> {
  const ids = [...new Set(members.flatMap((stored) => stored.groupIds))]
  const found = await findGroups(ctx, organizationId, ids)
  return new Map([...found].map(([id, group]) => [id, group.name]))
}

export async function representUsers(
  ctx: ServiceContext,
  organizationId: string,
  base: string,
  members: StoredMember[]
): Promise<ScimUser[]> {
  const names = await groupNamesOf(ctx, organizationId, members)
  return members.map((stored) => userResource(stored, base, names))
}

// ----- Input ---------------------------------------------------------------------------------

/** Entra sends booleans as the strings "True"/"False" (without its aadOptscim062020 flag). */
export const ScimBoolean = z.preprocess(
  (value) =>
    typeof value === 'string' && /^(true|false)$/i.test(value)
      ? value.toLowerCase() === 'true'
      : value,
  z.boolean()
)

const Text = (max: number) => z.string().trim().max(max).nullable().optional()

const EnterpriseInput = z.object({
  ...Object.fromEntries(ENTERPRISE_STRING_ATTRIBUTES.map((name) => [name, Text(200)])),
  // Entra sends the manager as its id alone in PATCH values.
  manager: z
    .union([
      z.string().trim().max(256),
      z.object({ value: Text(256), displayName: z.unknown().optional() }),
    ])
    .nullable()
    .optional(),
})

/** A User as POST and PUT take it; attributes not listed are ignored (RFC 7644 §3.3). */
const UserInput = z.object({
  // An email address, or any name when `emails` gives one (the member's email).
  userName: z.string().trim().min(1, 'userName must not be empty').max(320),
  emails: z
    .array(
      z.object({
        value: z.string().trim().max(320),
        type: z.string().nullable().optional(),
        primary: ScimBoolean.nullable().optional(),
      })
    )
    .max(100)
    .nullable()
    .optional(),
  externalId: z.string().trim().min(1).max(256).nullable().optional(),
  name: z
    .object({ formatted: Text(400), givenName: Text(200), familyName: Text(200) })
    .nullable()
    .optional(),
  displayName: Text(200),
  active: ScimBoolean.optional(),
  [ENTERPRISE_SCHEMA]: EnterpriseInput.nullable().optional(),
})

type UserInput = z.infer<typeof UserInput>

function parseUser(body: unknown): UserInput {
  const parsed = UserInput.safeParse(unqualifiedResource(body, USER_SCHEMA))
  if (!parsed.success) throw scimValidationError(parsed.error)
  return parsed.data
}

const blank = (value: string | null | undefined) =>
  value === undefined || value === null || value === '' ? null : value

/**
 * The member's email: the userName when it is an email address (what Okta and Entra send;
 * `emails` are then ignored), else the primary email (else the first work one, else the first).
 */
function emailOf(input: UserInput): string {
  if (isEmailAddress(input.userName)) return input.userName
  const emails = (input.emails ?? []).filter((email) => email.value !== '')
  const chosen =
    emails.find((email) => email.primary === true) ??
    emails.find((email) => email.type?.toLowerCase() === 'work') ??
    emails[0]
  if (!chosen) {
    throw badRequest(
      'invalidValue',
      `userName '${input.userName}' is not an email address and the user has no email: send ` +
        'emails [{"value": "<address>", "primary": true}] (the member is known by that address).'
    )
  }
  if (!isEmailAddress(chosen.value)) {
    throw badRequest('invalidValue', `emails value '${chosen.value}' is not an email address.`)
  }
  return chosen.value
}

/** The SCIM profile kept for the member (userName, enterprise attributes), or null if empty. */
function profileOf(input: UserInput): MemberProfile | null {
  const profile: MemberProfile = isEmailAddress(input.userName)
    ? {}
    : { [USER_NAME_KEY]: input.userName }
  const enterprise = input[ENTERPRISE_SCHEMA]
  if (!enterprise) return Object.keys(profile).length > 0 ? profile : null
  for (const name of ENTERPRISE_STRING_ATTRIBUTES) {
    const value = blank((enterprise as Record<string, string | null | undefined>)[name])
    if (value !== null) profile[name] = value
  }
  const manager = enterprise.manager
  const managerId = blank(typeof manager === 'string' ? manager : manager?.value)
  if (managerId !== null) profile.manager = { value: managerId }
  return Object.keys(profile).length > 0 ? profile : null
}

/** The member fields a SCIM User sets (all of them: POST and PUT replace). */
function memberFields(input: UserInput) {
  const givenName = blank(input.name?.givenName)
  const familyName = blank(input.name?.familyName)
  const displayName =
    blank(input.displayName) ??
    blank(input.name?.formatted) ??
    blank([givenName, familyName].filter(Boolean).join(' ')) ??
    input.userName
  const status: MemberStatus | undefined =
    input.active === undefined ? undefined : input.active ? 'active' : 'deactivated'
  return {
    email: emailOf(input),
    name: displayName.slice(0, 200),
    given_name: givenName,
    family_name: familyName,
    external_id: input.externalId ?? null,
    scim_managed: true,
    profile: profileOf(input),
    status,
  }
}

// ----- Operations ----------------------------------------------------------------------------

export async function getUser(
  ctx: ServiceContext,
  organizationId: string,
  base: string,
  id: string
): Promise<ScimUser> {
  const stored = await getMemberDetails(ctx, organizationId, id)
  const [user] = await representUsers(ctx, organizationId, base, [stored])
  return user!
}

/** Users in a filtered list: members, found by email, externalId or id, else by a scan. */
export const SCIM_USERS: SearchableResource<StoredMember> = {
  schema: USER_SCHEMA,
  attributes: USER_FILTER_ATTRIBUTES,
  byKey: {
    // A userName that is not an email address is not a key: those users are found by a scan.
    username: (ctx, organizationId, value) =>
      isEmailAddress(value)
        ? byEmail(ctx, organizationId, value)
        : scanMembers(ctx, organizationId, MAX_SCAN),
    'emails.value': byEmail,
    externalid: membersByExternalId,
    id: async (ctx, organizationId, id) => [
      ...(await findMemberDetails(ctx, organizationId, [id])).values(),
    ],
  },
  idOf: (stored) => stored.member.id,
  scan: scanMembers,
  plural: 'members',
  keyedHint: 'userName, externalId, emails.value or id',
  // Group names are read only when the filter names groups.
  representation: async (ctx, organizationId, found, filterText) => {
    const names = /groups/i.test(filterText)
      ? await groupNamesOf(ctx, organizationId, found)
      : new Map<string, string>()
    return (stored) => userResource(stored, '', names)
  },
}

async function byEmail(ctx: ServiceContext, organizationId: string, email: string) {
  const stored = await memberDetailsByEmail(ctx, organizationId, email)
  return stored ? [stored] : []
}

export async function createUser(
  ctx: ServiceContext,
  organizationId: string,
  base: string,
  body: unknown
): Promise<ScimUser> {
  const input = parseUser(body)
  const { status, profile, ...fields } = memberFields(input)
  await requireFreeUserName(ctx, organizationId, input.userName, undefined)
  const member = await createMember(ctx, organizationId, {
    ...fields,
    profile,
    status: status ?? 'active',
  })
  return userResource({ member, state: 'ready', groupIds: [], profile }, base, new Map())
}

/** PUT: every attribute is set from the body (absent ones cleared), except `active` if absent. */
export async function replaceUser(
  ctx: ServiceContext,
  organizationId: string,
  base: string,
  id: string,
  body: unknown,
  expectedVersion: number | undefined
): Promise<ScimUser> {
  const input = parseUser(body)
  const fields = memberFields(input)
  await requireFreeUserName(ctx, organizationId, input.userName, id)
  await updateMember(ctx, organizationId, id, fields, expectedVersion)
  return getUser(ctx, organizationId, base, id)
}

/**
 * userName is unique regardless of case (RFC 7643 uniqueness "server"). Email userNames are
 * the members' emails, unique by the member model; any other is checked against the users
 * that have one (found by a scan, so two concurrent creates of one such name may both pass).
 */
async function requireFreeUserName(
  ctx: ServiceContext,
  organizationId: string,
  userName: string,
  selfId: string | undefined
): Promise<void> {
  if (isEmailAddress(userName)) return
  const holders = await searchResources(
    ctx,
    organizationId,
    SCIM_USERS,
    `userName eq ${JSON.stringify(userName)}`
  )
  if (holders.some((stored) => stored.member.id !== selfId)) {
    throw new ScimProblem(409, 'uniqueness', `A user with userName '${userName}' exists.`)
  }
}

/**
 * PATCH: the operations applied to the current User, then saved as a PUT of the result, on
 * the condition that the member is still at the version read (retried on fresh data when
 * the request has no If-Match).
 */
export async function patchUser(
  ctx: ServiceContext,
  organizationId: string,
  base: string,
  id: string,
  operations: PatchOperation[],
  expectedVersion: number | undefined
): Promise<ScimUser> {
  operations = unqualifiedOperations(operations, USER_SCHEMA)
  for (const operation of operations) {
    const path = operation.path?.toLowerCase() ?? ''
    if (path.startsWith('groups') || path === 'id' || path.startsWith('meta')) {
      throw new ScimProblem(400, 'mutability', `'${operation.path}' cannot be changed.`)
    }
  }
  for (let attempt = 1; ; attempt++) {
    const current = await getMemberDetails(ctx, organizationId, id)
    if (expectedVersion !== undefined && current.member.version !== expectedVersion) {
      throw staleVersion('user', current.member.version, expectedVersion)
    }
    const { meta, groups, ...resource } = userResource(current, base, new Map())
    const input = parseUser(applyPatch(resource, operations, USER_NAMES))
    const fields = memberFields(input)
    await requireFreeUserName(ctx, organizationId, input.userName, id)
    try {
      await updateMember(ctx, organizationId, id, fields, current.member.version)
    } catch (error) {
      const lostRace = error instanceof AppError && error.type === 'precondition_failed'
      if (!lostRace || expectedVersion !== undefined || attempt >= 5) throw error
      continue
    }
    return getUser(ctx, organizationId, base, id)
  }
}

export async function deleteUser(
  ctx: ServiceContext,
  organizationId: string,
  id: string,
  expectedVersion: number | undefined
): Promise<void> {
  await removeMember(ctx, organizationId, id, expectedVersion)
}
