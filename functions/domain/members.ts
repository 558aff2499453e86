import { isDeepStrictEqual } from 'node:util'
import { conflict, duplicate, notFound, preconditionFailed, staleVersion } from '../lib/errors.js'
import { newId } from '../lib/ids.js'
import {
  type Member,
  type MemberStatus,
  type OrgRole,
  PRODUCTS,
  type WorkspaceRoles,
} from '../model/index.js'
import { uniqueClaims } from '../store/claims.js'
import { ConditionFailedError } from '../store/db.js'
import { type MemberProfile, members, type StoredMember } from '../store/members.js'
import { organizations } from '../store/organizations.js'
import type { Page, PageRequest } from '../store/pagination.js'
import { emitWebhookEvent, eventIdFor } from '../webhooks/events.js'
import { removeAllGrantsOf, resolveWorkspaceRoles, writeGrant } from './access.js'
import { revokeApiKeysOfMember } from './api-keys.js'
import { recordAudit } from './audit.js'
import { leaseExpired, withLock } from './concurrency.js'
import type { ServiceContext } from './context.js'
import { endMembership } from './groups.js'
import { releaseSeat } from './seats.js'

const EMAIL_CLAIM = 'email'
/** Serialises changes that could leave the organization without an active admin member. */
const ADMIN_LOCK = 'organization-admin'
const ATTEMPTS = 5

/** Emails are unique per organization regardless of case. */
export function emailKey(email: string): string {
  return email.trim().toLowerCase()
}

export interface NewMember {
  email: string
  name: string
  org_role?: OrgRole | undefined
  workspaces?: WorkspaceRoles[] | undefined
  status?: MemberStatus | undefined
  given_name?: string | null | undefined
  family_name?: string | null | undefined
  external_id?: string | null | undefined
  scim_managed?: boolean | undefined
  profile?: MemberProfile | null | undefined
}

/** A change of a member; undefined leaves a field as it is. */
export interface MemberPatch {
  name?: string | undefined
  org_role?: OrgRole | undefined
  status?: MemberStatus | undefined
  /** A new email: claimed first (409 when taken), the old one released after the change. */
  email?: string | undefined
  given_name?: string | null | undefined
  family_name?: string | null | undefined
  external_id?: string | null | undefined
  scim_managed?: boolean | undefined
  /** Replaces the profile (null clears it). */
  profile?: MemberProfile | null | undefined
}

/** The fields of Member a patch may change, compared to tell whether anything changes. */
const PATCHABLE = [
  'name',
  'org_role',
  'status',
  'email',
  'given_name',
  'family_name',
  'external_id',
  'scim_managed',
] as const

const isActiveAdmin = (member: Member) =>
  member.status === 'active' && member.org_role === 'organization_admin'

/** The ready member holding an email, if any (one GetItem on the claim, one on the member). */
export async function memberByEmail(
  ctx: ServiceContext,
  organizationId: string,
  email: string
): Promise<Member | undefined> {
  return (await memberDetailsByEmail(ctx, organizationId, email))?.member
}

/** As memberByEmail, with the member's direct groups and profile. */
export async function memberDetailsByEmail(
  ctx: ServiceContext,
  organizationId: string,
  email: string
): Promise<StoredMember | undefined> {
  const claim = await uniqueClaims.get(ctx.db, organizationId, EMAIL_CLAIM, emailKey(email))
  if (!claim) return undefined
  const stored = await members.find(ctx.db, organizationId, claim.owner_id)
  return stored?.state === 'ready' && emailKey(stored.member.email) === emailKey(email)
    ? stored
    : undefined
}

/** Ready members with an externalId (GSI1 candidates confirmed by consistent reads). */
export async function membersByExternalId(
  ctx: ServiceContext,
  organizationId: string,
  externalId: string
): Promise<StoredMember[]> {
  const ids = await members.idsByExternalId(ctx.db, organizationId, externalId)
  const found = await members.findMany(ctx.db, organizationId, ids)
  return [...found.values()]
    .filter((stored) => stored.state === 'ready' && stored.member.external_id === externalId)
    .sort((a, b) => (a.member.id < b.member.id ? -1 : 1))
}

/** A ready member with their direct groups and profile. */
export async function getMemberDetails(
  ctx: ServiceContext,
  organizationId: string,
  memberId: string
): Promise<StoredMember> {
  return requireMember(ctx, organizationId, memberId)
}

/** Ready members with direct groups and profile, by id; absent or not ready ones are left out. */
export async function findMemberDetails(
  ctx: ServiceContext,
  organizationId: string,
  memberIds: string[]
): Promise<Map<string, StoredMember>> {
  const found = await members.findMany(ctx.db, organizationId, memberIds)
  for (const [id, stored] of found) if (stored.state !== 'ready') found.delete(id)
  return found
}

/** The organization's ready members in creation order, at most `max` (whole-org reads). */
export function scanMembers(
  ctx: ServiceContext,
  organizationId: string,
  max: number
): Promise<StoredMember[]> {
  return members.scan(ctx.db, organizationId, max)
}

/**
 * Claims an email for `memberId`. Recovery of half-finished work by others: a claim whose
 * member was never written is taken over after the lease; a member stuck in `creating` past
 * the lease is abandoned (removed); a member being removed has its removal finished.
 */
async function claimEmail(
  ctx: ServiceContext,
  organizationId: string,
  email: string,
  memberId: string
): Promise<void> {
  const value = emailKey(email)
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const now = ctx.clock.now()
    const holder = await uniqueClaims.claim(
      ctx.db,
      organizationId,
      EMAIL_CLAIM,
      value,
      memberId,
      now
    )
    if (!holder || holder.owner_id === memberId) return
    const owner = await members.find(ctx.db, organizationId, holder.owner_id)
    const ownerHasEmail = owner !== undefined && emailKey(owner.member.email) === value
    if (owner?.state === 'ready' && ownerHasEmail) {
      throw duplicate(`A member with email ${email} already exists.`, 'email')
    }
    if (owner?.state === 'removing' && ownerHasEmail) {
      await finishRemoval(ctx, organizationId, owner.member.id)
      continue
    }
    if (owner && owner.state !== 'creating') {
      // A claim taken for an email change of `owner` that has not been saved yet (or was
      // abandoned by a crash): it becomes stale once the lease has run out.
      if (!leaseExpired(holder.claimed_at, now)) {
        throw conflict(`The email ${email} is being assigned; retry shortly.`, 'email')
      }
      await uniqueClaims.takeOver(ctx.db, organizationId, EMAIL_CLAIM, value, holder, memberId, now)
      continue
    }
    const since = owner ? owner.member.created_at : holder.claimed_at
    if (!leaseExpired(since, now)) {
      throw conflict(`A member with email ${email} is being created; retry shortly.`, 'email')
    }
    if (!owner) {
      await uniqueClaims.takeOver(ctx.db, organizationId, EMAIL_CLAIM, value, holder, memberId, now)
      continue
    }
    // Abandoned in `creating`: remove what it wrote, which frees the email.
    await members
      .save(ctx.db, owner.member, owner.member.version, 'removing')
      .catch((error: unknown) => {
        if (!(error instanceof ConditionFailedError)) throw error
      })
    await finishRemoval(ctx, organizationId, owner.member.id)
  }
  throw conflict(`The email ${email} is contended; retry shortly.`, 'email')
}

/**
 * Creates a member. Without transactions the writes are ordered: the email claim, the member
 * item in state `creating` (invisible), its grants (the default workspace always among them),
 * then `ready`. Re-running with the same `id` (a retried invite acceptance) continues where a
 * crash stopped; a different request for the same email recovers it (see claimEmail).
 */
export async function createMember(
  ctx: ServiceContext,
  organizationId: string,
  input: NewMember,
  options: { id?: string } = {}
): Promise<Member> {
  const organization = await organizations.get(ctx.db, organizationId)
  if (!organization) throw notFound('organization', organizationId)
  const workspaceRoles = await resolveWorkspaceRoles(ctx, organization, input.workspaces)
  const now = ctx.clock.now()
  const id = options.id ?? newId('member', now)
  await claimEmail(ctx, organizationId, input.email, id)

  let stored = await members.find(ctx.db, organizationId, id)
  if (stored?.state === 'ready') return stored.member
  if (stored?.state === 'removing') throw conflict('This member is being removed.', 'email')
  if (!stored) {
    const at = now.toISOString()
    const member: Member = {
      id,
      object: 'member',
      organization_id: organizationId,
      email: input.email.trim(),
      name: input.name,
      given_name: input.given_name ?? null,
      family_name: input.family_name ?? null,
      external_id: input.external_id ?? null,
      scim_managed: input.scim_managed ?? false,
      org_role: input.org_role ?? 'member',
      status: input.status ?? 'active',
      created_at: at,
      updated_at: at,
      version: 1,
    }
    const profile = input.profile ?? null
    await members.create(ctx.db, member, 'creating', profile)
    stored = { member, state: 'creating', groupIds: [], profile }
  }
  const { member } = stored
  const written = []
  for (const entry of workspaceRoles) {
    written.push(
      await writeGrant(ctx, organizationId, entry.workspace_id, { type: 'member', id }, entry.roles)
    )
  }
  if (!(await members.markReady(ctx.db, organizationId, id))) {
    throw conflict('The member was abandoned while being created; retry.', 'email')
  }
  await recordAudit(ctx, organizationId, {
    event_type: 'member.created',
    target: { type: 'member', id },
    after: { ...member, workspaces: workspaceRoles },
  })
  for (const { grant, change } of written) {
    if (change === 'unchanged') continue
    await recordAudit(ctx, organizationId, {
      event_type: 'workspace.access_granted',
      target: { type: 'member', id },
      workspace_id: grant.workspace_id,
      after: grant,
    })
  }
  return member
}

async function requireMember(
  ctx: ServiceContext,
  organizationId: string,
  memberId: string
): Promise<StoredMember> {
  const stored = await members.find(ctx.db, organizationId, memberId)
  if (stored?.state !== 'ready') throw notFound('member', memberId, 'id')
  return stored
}

export async function getMember(
  ctx: ServiceContext,
  organizationId: string,
  memberId: string
): Promise<Member> {
  return (await requireMember(ctx, organizationId, memberId)).member
}

export async function listMembers(
  ctx: ServiceContext,
  organizationId: string,
  page: PageRequest,
  filter: { email?: string | undefined; status?: MemberStatus | undefined }
): Promise<Page<Member>> {
  if (filter.email !== undefined) {
    const member = await memberByEmail(ctx, organizationId, filter.email)
    const data = member && (!filter.status || member.status === filter.status) ? [member] : []
    return { data, has_more: false, next_cursor: null }
  }
  return members.list(ctx.db, organizationId, page, { status: filter.status })
}

/**
 * Another active member with the organization_admin role must remain. Candidates come from
 * GSI2 (eventually consistent) and are each confirmed with a strongly consistent read.
 */
async function requireAnotherAdmin(ctx: ServiceContext, organizationId: string, memberId: string) {
  const candidates = (
    await members.idsByRole(ctx.db, organizationId, 'organization_admin', 'active', 25)
  ).filter((id) => id !== memberId)
  const found = await members.findMany(ctx.db, organizationId, candidates)
  const another = [...found.values()].some(
    (stored) => stored.state === 'ready' && isActiveAdmin(stored.member)
  )
  if (!another) {
    throw conflict(
      `${memberId} is the last active organization_admin member; make another member organization_admin first.`,
      'id'
    )
  }
}

/**
 * Writes a change of a member. A change that takes away an active organization_admin runs
 * under the organization's admin lease, after confirming another one remains, so two such
 * changes at once cannot both pass. Throws ConditionFailedError on a lost version race.
 */
async function saveMember(
  ctx: ServiceContext,
  organizationId: string,
  current: Member,
  next: Member,
  state: 'ready' | 'removing',
  profile?: MemberProfile | null
): Promise<Member> {
  const takesAdminAway = isActiveAdmin(current) && (state === 'removing' || !isActiveAdmin(next))
  if (!takesAdminAway) return members.save(ctx.db, next, current.version, state, profile)
  return withLock(ctx, organizationId, ADMIN_LOCK, async () => {
    await requireAnotherAdmin(ctx, organizationId, current.id)
    return members.save(ctx.db, next, current.version, state, profile)
  })
}

/**
 * Changes a member. A new email is claimed before the change is written and the old one
 * released after it (if the change fails, the new claim is released again), as group renames do.
 */
export async function updateMember(
  ctx: ServiceContext,
  organizationId: string,
  memberId: string,
  patch: MemberPatch,
  expectedVersion?: number
): Promise<Member> {
  const newEmail = patch.email?.trim()
  let claimed: string | undefined
  if (newEmail !== undefined) {
    const { member } = await requireMember(ctx, organizationId, memberId)
    if (emailKey(newEmail) !== emailKey(member.email)) {
      await claimEmail(ctx, organizationId, newEmail, memberId)
      claimed = emailKey(newEmail)
    }
  }
  let result: { before: Member; after: Member } | undefined
  try {
    result = await saveMemberPatch(ctx, organizationId, memberId, patch, expectedVersion)
  } finally {
    const kept = result ? emailKey(result.after.email) : undefined
    if (claimed !== undefined && claimed !== kept) {
      await uniqueClaims.release(ctx.db, organizationId, EMAIL_CLAIM, claimed, memberId)
    }
  }
  const { before, after } = result
  if (emailKey(before.email) !== emailKey(after.email)) {
    await uniqueClaims.release(
      ctx.db,
      organizationId,
      EMAIL_CLAIM,
      emailKey(before.email),
      memberId
    )
  }
  return after
}

async function saveMemberPatch(
  ctx: ServiceContext,
  organizationId: string,
  memberId: string,
  patch: MemberPatch,
  expectedVersion: number | undefined
): Promise<{ before: Member; after: Member }> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const { member: current, profile } = await requireMember(ctx, organizationId, memberId)
    if (expectedVersion !== undefined && current.version !== expectedVersion) {
      throw staleVersion('member', current.version, expectedVersion)
    }
    const next: Member = { ...current }
    for (const field of PATCHABLE) {
      const value = field === 'email' ? patch.email?.trim() : patch[field]
      if (value !== undefined) Object.assign(next, { [field]: value })
    }
    const profileChanges = patch.profile !== undefined && !isDeepStrictEqual(patch.profile, profile)
    if (!profileChanges && PATCHABLE.every((field) => next[field] === current[field])) {
      return { before: current, after: current }
    }
    next.updated_at = ctx.clock.now().toISOString()
    let saved: Member
    try {
      saved = await saveMember(
        ctx,
        organizationId,
        current,
        next,
        'ready',
        profileChanges ? patch.profile : undefined
      )
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error
      if (expectedVersion !== undefined) {
        throw preconditionFailed('The member was changed by another request; read it again.')
      }
      continue
    }
    const audit = await recordAudit(ctx, organizationId, {
      event_type: 'member.updated',
      target: { type: 'member', id: memberId },
      before: profileChanges ? { ...current, profile } : current,
      after: profileChanges ? { ...saved, profile: patch.profile } : saved,
    })
    if (current.status !== 'deactivated' && saved.status === 'deactivated') {
      await emitWebhookEvent(ctx, organizationId, {
        type: 'member.deactivated',
        id: eventIdFor(audit.id),
        data: { member: saved },
      })
    }
    return { before: current, after: saved }
  }
  throw preconditionFailed('The member keeps changing; read it again.')
}

/**
 * Removes a member. The member is first marked `removing` (from then on they exist for nobody
 * and decisions deny), then their API keys are revoked, seats released, group memberships and
 * grants removed, and last the email claim and the member item deleted. Every step is idempotent,
 * so a removal that failed half-way is completed by retrying the DELETE.
 */
export async function removeMember(
  ctx: ServiceContext,
  organizationId: string,
  memberId: string,
  expectedVersion?: number
): Promise<{ object: 'member.deleted'; id: string; deleted: true }> {
  for (let attempt = 0; ; attempt++) {
    const stored = await members.find(ctx.db, organizationId, memberId)
    if (!stored || stored.state === 'creating') throw notFound('member', memberId, 'id')
    if (stored.state === 'removing') break
    const current = stored.member
    if (expectedVersion !== undefined && current.version !== expectedVersion) {
      throw staleVersion('member', current.version, expectedVersion)
    }
    try {
      const next = { ...current, updated_at: ctx.clock.now().toISOString() }
      await saveMember(ctx, organizationId, current, next, 'removing')
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error
      if (expectedVersion !== undefined || attempt + 1 >= ATTEMPTS) {
        throw preconditionFailed('The member was changed by another request; read it again.')
      }
      continue
    }
    await recordAudit(ctx, organizationId, {
      event_type: 'member.removed',
      target: { type: 'member', id: memberId },
      before: current,
    })
    break
  }
  await finishRemoval(ctx, organizationId, memberId)
  return { object: 'member.deleted', id: memberId, deleted: true }
}

/** The cascade of a member marked `removing`; safe to run again after any failure. */
async function finishRemoval(ctx: ServiceContext, organizationId: string, memberId: string) {
  const stored = await members.find(ctx.db, organizationId, memberId)
  if (stored?.state !== 'removing') return
  await revokeApiKeysOfMember(ctx, organizationId, memberId)
  for (const product of PRODUCTS) await releaseSeat(ctx, organizationId, product, memberId)
  for (const groupId of stored.groupIds) {
    await endMembership(ctx, organizationId, groupId, memberId, 'member')
  }
  await removeAllGrantsOf(ctx, organizationId, { type: 'member', id: memberId })
  // The claim goes before the item: while the item is there a retried DELETE still finds the
  // removal to finish; once it is gone nothing would ever release the email.
  await uniqueClaims.release(
    ctx.db,
    organizationId,
    EMAIL_CLAIM,
    emailKey(stored.member.email),
    memberId
  )
  await members.remove(ctx.db, organizationId, memberId)
}
