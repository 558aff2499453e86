import { DAY_MS, epochSeconds } from '../lib/clock.js'
import { AppError, conflict, notFound } from '../lib/errors.js'
import { newId } from '../lib/ids.js'
import { generateSecret, hashSecret } from '../lib/secrets.js'
import type { Invite, InviteStatus, Member, OrgRole, WorkspaceRoles } from '../model/index.js'
import { invites, inviteTokens } from '../store/invites.js'
import { organizations } from '../store/organizations.js'
import type { Page, PageRequest } from '../store/pagination.js'
import { resolveWorkspaceRoles } from './access.js'
import { recordAudit } from './audit.js'
import type { ServiceContext } from './context.js'
import { createMember, memberByEmail } from './members.js'

export const DEFAULT_INVITE_DAYS = 21
/** A used, revoked or expired token still gets a precise error for this long after expiry. */
const TOKEN_RETENTION_DAYS = 30

export interface NewInvite {
  email: string
  org_role?: OrgRole | undefined
  workspaces?: WorkspaceRoles[] | undefined
  expires_in_days?: number | undefined
}

/** The API view: an accept in progress is still `pending`; a pending invite past expiry is `expired`. */
function present(invite: Invite, now: Date): Invite {
  const stored = invite.status as InviteStatus | 'accepting'
  let status: InviteStatus = stored === 'accepting' ? 'pending' : stored
  if (status === 'pending' && Date.parse(invite.expires_at) <= now.getTime()) status = 'expired'
  return { ...invite, status }
}

/** Creates an invite with a one-time token (`invt_…`, shown once; only its hash is stored). */
export async function createInvite(
  ctx: ServiceContext,
  organizationId: string,
  input: NewInvite
): Promise<Invite & { token: string }> {
  const organization = await organizations.get(ctx.db, organizationId)
  if (!organization) throw notFound('organization', organizationId)
  if (await memberByEmail(ctx, organizationId, input.email)) {
    throw conflict(`${input.email} is already a member of the organization.`, 'email')
  }
  const workspaces = await resolveWorkspaceRoles(ctx, organization, input.workspaces)
  const now = ctx.clock.now()
  const expiresAt = new Date(
    now.getTime() + (input.expires_in_days ?? DEFAULT_INVITE_DAYS) * DAY_MS
  )
  const token = generateSecret('invite')
  const tokenHash = hashSecret(token)
  const invite: Invite = {
    id: newId('invite', now),
    object: 'invite',
    organization_id: organizationId,
    email: input.email.trim(),
    org_role: input.org_role ?? 'member',
    workspaces,
    status: 'pending',
    created_by: ctx.actor,
    created_at: now.toISOString(),
    expires_at: expiresAt.toISOString(),
    accepted_at: null,
    revoked_at: null,
    member_id: newId('member', now),
  }
  await invites.create(ctx.db, invite, tokenHash)
  try {
    await inviteTokens.put(
      ctx.db,
      tokenHash,
      { organization_id: organizationId, invite_id: invite.id },
      epochSeconds(expiresAt) + TOKEN_RETENTION_DAYS * 24 * 3600
    )
  } catch (error) {
    await invites.collection.remove(ctx.db, organizationId, invite.id).catch(() => undefined)
    throw error
  }
  await recordAudit(ctx, organizationId, {
    event_type: 'invite.created',
    target: { type: 'invite', id: invite.id },
    after: invite,
  })
  return { ...invite, token }
}

export async function listInvites(
  ctx: ServiceContext,
  organizationId: string,
  page: PageRequest,
  status?: InviteStatus
): Promise<Page<Invite>> {
  const now = ctx.clock.now()
  const listed = await invites.collection.list(ctx.db, organizationId, page, {
    forward: false,
    ...(status ? { keep: (invite: Invite) => present(invite, now).status === status } : {}),
  })
  return { ...listed, data: listed.data.map((invite) => present(invite, now)) }
}

export async function getInvite(
  ctx: ServiceContext,
  organizationId: string,
  inviteId: string
): Promise<Invite> {
  const found = await invites.get(ctx.db, organizationId, inviteId)
  if (!found) throw notFound('invite', inviteId, 'id')
  return present(found.record, ctx.clock.now())
}

/** Revokes a pending (or expired) invite; revoking twice returns the revoked invite. */
export async function revokeInvite(
  ctx: ServiceContext,
  organizationId: string,
  inviteId: string
): Promise<Invite> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = await invites.get(ctx.db, organizationId, inviteId)
    if (!found) throw notFound('invite', inviteId, 'id')
    const invite = found.record
    const stored = invite.status as InviteStatus | 'accepting'
    if (stored === 'revoked') return present(invite, ctx.clock.now())
    if (stored === 'accepted') throw conflict('The invite was already accepted.', 'id')
    if (stored === 'accepting') throw conflict('The invite is being accepted right now.', 'id')
    const revokedAt = ctx.clock.now().toISOString()
    if (
      await invites.transition(ctx.db, organizationId, inviteId, ['pending'], 'revoked', {
        revoked_at: revokedAt,
      })
    ) {
      const after: Invite = { ...invite, status: 'revoked', revoked_at: revokedAt }
      await recordAudit(ctx, organizationId, {
        event_type: 'invite.revoked',
        target: { type: 'invite', id: inviteId },
        before: invite,
        after,
      })
      return present(after, ctx.clock.now())
    }
  }
  throw conflict('The invite keeps changing; read it again.', 'id')
}

/**
 * Accepts an invite with its token (the token is the only credential): creates the member with
 * the invited roles. The invite is marked `accepting` first (a revoke can no longer race it),
 * the member is created with the id fixed at invitation (so a retry after a crash continues the
 * same member), then the invite is marked `accepted`. An unknown token → 404; a revoked, used
 * or expired one → 409 saying which.
 */
export async function acceptInvite(
  ctx: Omit<ServiceContext, 'actor'>,
  token: string,
  name: string
): Promise<Member> {
  const now = ctx.clock.now()
  const tokenHash = hashSecret(token)
  const ref = await inviteTokens.find(ctx.db, tokenHash, now)
  const found = ref && (await invites.get(ctx.db, ref.organization_id, ref.invite_id))
  if (!ref || !found || found.internal.token_hash !== tokenHash) {
    throw new AppError('not_found', 'No invite has this token.', 'token')
  }
  const organizationId = ref.organization_id
  const inviteCtx: ServiceContext = { ...ctx, actor: { type: 'invite', id: found.record.id } }
  let invite = found.record
  for (let attempt = 0; (invite.status as string) !== 'accepting'; attempt++) {
    switch (invite.status as InviteStatus | 'accepting') {
      case 'revoked':
        throw conflict('This invite was revoked.', 'token')
      case 'accepted':
        throw conflict('This invite was already accepted.', 'token')
      default:
        if (Date.parse(invite.expires_at) <= now.getTime()) {
          throw conflict(`This invite expired at ${invite.expires_at}.`, 'token')
        }
    }
    if (await invites.transition(ctx.db, organizationId, invite.id, ['pending'], 'accepting')) {
      break
    }
    const again = await invites.get(ctx.db, organizationId, invite.id)
    if (!again || attempt >= 3) throw conflict('The invite keeps changing; retry.', 'token')
    invite = again.record
  }
  let member: Member
  try {
    member = await createMember(
      inviteCtx,
      organizationId,
      {
        email: invite.email,
        name,
        org_role: invite.org_role,
        workspaces: invite.workspaces,
      },
      { id: invite.member_id }
    )
  } catch (error) {
    // The email became a member meanwhile: the invite can never be used; let it be revoked.
    if (error instanceof AppError && error.type === 'conflict' && error.param === 'email') {
      await invites.transition(ctx.db, organizationId, invite.id, ['accepting'], 'pending')
    }
    throw error
  }
  const acceptedAt = now.toISOString()
  if (
    await invites.transition(ctx.db, organizationId, invite.id, ['accepting'], 'accepted', {
      accepted_at: acceptedAt,
    })
  ) {
    await recordAudit(inviteCtx, organizationId, {
      event_type: 'invite.accepted',
      target: { type: 'invite', id: invite.id },
      before: { ...invite, status: 'pending' },
      after: { ...invite, status: 'accepted', accepted_at: acceptedAt },
    })
  }
  return member
}
