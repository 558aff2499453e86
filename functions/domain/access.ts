import {
  AppError,
  conflict,
  invalid,
  notFound,
  preconditionFailed,
  staleVersion,
} from '../lib/errors.js'
import { walkNesting } from '../lib/group-nesting.js'
import {
  type Group,
  type Organization,
  type OrgRole,
  WORKSPACE_ROLES,
  type WorkspaceGrant,
  type WorkspaceRole,
  type WorkspaceRoles,
} from '../model/index.js'
import { ConditionFailedError } from '../store/db.js'
import { grants, type PrincipalRef } from '../store/grants.js'
import { groups } from '../store/groups.js'
import { members } from '../store/members.js'
import type { PageRequest } from '../store/pagination.js'
import { workspaces } from '../store/workspaces.js'
import { recordAudit } from './audit.js'
import type { ServiceContext } from './context.js'
import { updateVersioned } from './versioning.js'

/** The roles a member holds in the default workspace unless told otherwise (as Mistral does). */
export const DEFAULT_WORKSPACE_ROLES: WorkspaceRole[] = ['workspace_contributor']

/** Roles deduplicated, in the catalogue's order. */
export function normalizeRoles(roles: readonly WorkspaceRole[]): WorkspaceRole[] {
  const wanted = new Set(roles)
  return WORKSPACE_ROLES.filter((role) => wanted.has(role))
}

/**
 * Checks a `workspaces` list (member creation, invites): each workspace once and of this
 * organization. The result always includes the default workspace, every member's home.
 */
export async function resolveWorkspaceRoles(
  ctx: ServiceContext,
  organization: Organization,
  requested: readonly WorkspaceRoles[] = []
): Promise<WorkspaceRoles[]> {
  const seen = new Set<string>()
  for (const entry of requested) {
    if (seen.has(entry.workspace_id)) {
      throw invalid(`workspaces names ${entry.workspace_id} more than once.`, 'workspaces')
    }
    seen.add(entry.workspace_id)
  }
  const found = await Promise.all(
    requested.map((entry) => workspaces.get(ctx.db, organization.id, entry.workspace_id))
  )
  found.forEach((workspace, index) => {
    if (!workspace) throw notFound('workspace', requested[index]!.workspace_id, 'workspaces')
  })
  const resolved = requested.map((entry) => ({
    workspace_id: entry.workspace_id,
    roles: normalizeRoles(entry.roles),
  }))
  if (!seen.has(organization.default_workspace_id)) {
    resolved.unshift({
      workspace_id: organization.default_workspace_id,
      roles: [...DEFAULT_WORKSPACE_ROLES],
    })
  }
  return resolved
}

// ----- Grants ------------------------------------------------------------------------------

export type GrantChange = 'created' | 'updated' | 'unchanged'

/**
 * Creates or replaces the roles of one (workspace, principal) grant. With `expectedVersion`
 * (If-Match) the grant must exist, at that version unless it is 'any' (`*`). No checks of the
 * principal; no audit.
 */
export async function writeGrant(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string,
  principal: PrincipalRef,
  roles: readonly WorkspaceRole[],
  expectedVersion?: number | 'any'
): Promise<{ grant: WorkspaceGrant; change: GrantChange; before: WorkspaceGrant | null }> {
  const wanted = normalizeRoles(roles)
  for (;;) {
    const existing = await grants.get(ctx.db, organizationId, workspaceId, principal)
    if (!existing) {
      if (expectedVersion !== undefined) {
        throw preconditionFailed('There is no grant to match If-Match against.')
      }
      const at = ctx.clock.now().toISOString()
      const grant: WorkspaceGrant = {
        object: 'workspace_grant',
        organization_id: organizationId,
        workspace_id: workspaceId,
        principal,
        roles: wanted,
        created_at: at,
        updated_at: at,
        version: 1,
      }
      try {
        await grants.create(ctx.db, grant)
        return { grant, change: 'created', before: null }
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error
        continue // created concurrently: update it instead
      }
    }
    const result = await updateVersioned<WorkspaceGrant>({
      load: () => grants.get(ctx.db, organizationId, workspaceId, principal),
      missing: () => notFound('grant', `${workspaceId}/${principal.type}/${principal.id}`),
      expectedVersion: expectedVersion === 'any' ? undefined : expectedVersion,
      apply: (current) =>
        current.roles.join() === wanted.join()
          ? undefined
          : { ...current, roles: wanted, updated_at: ctx.clock.now().toISOString() },
      save: (next, version) => grants.save(ctx.db, next, version),
    })
    return {
      grant: result.after,
      change: result.changed ? 'updated' : 'unchanged',
      before: result.before,
    }
  }
}

/** The principal, if it exists now for access purposes (a ready member, an active group). */
async function principalExists(
  ctx: ServiceContext,
  organizationId: string,
  principal: PrincipalRef
): Promise<boolean> {
  if (principal.type === 'member') {
    const stored = await members.find(ctx.db, organizationId, principal.id)
    return stored?.state === 'ready'
  }
  const stored = await groups.find(ctx.db, organizationId, principal.id)
  return stored?.state === 'active'
}

async function requireWorkspace(ctx: ServiceContext, organizationId: string, workspaceId: string) {
  const workspace = await workspaces.get(ctx.db, organizationId, workspaceId)
  if (!workspace) throw notFound('workspace', workspaceId, 'id')
  return workspace
}

const principalParam = (principal: PrincipalRef) =>
  principal.type === 'member' ? 'member_id' : 'group_id'

/**
 * PUT of a grant. The principal is checked before and again after the write: a member being
 * removed (or a group being deleted) at the same time may have missed this grant in its
 * cascade, so the grant is taken back and the request answers 404.
 */
export async function putGrant(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string,
  principal: PrincipalRef,
  roles: readonly WorkspaceRole[],
  expectedVersion?: number | 'any'
): Promise<{ grant: WorkspaceGrant; created: boolean }> {
  await requireWorkspace(ctx, organizationId, workspaceId)
  if (!(await principalExists(ctx, organizationId, principal))) {
    throw notFound(principal.type, principal.id, principalParam(principal))
  }
  const result = await writeGrant(
    ctx,
    organizationId,
    workspaceId,
    principal,
    roles,
    expectedVersion
  )
  if (!(await principalExists(ctx, organizationId, principal))) {
    await grants.remove(ctx.db, organizationId, workspaceId, principal)
    throw notFound(principal.type, principal.id, principalParam(principal))
  }
  if (result.change !== 'unchanged') {
    await recordAudit(ctx, organizationId, {
      event_type:
        result.change === 'created' ? 'workspace.access_granted' : 'workspace.access_updated',
      target: { type: principal.type, id: principal.id },
      workspace_id: workspaceId,
      before: result.before,
      after: result.grant,
    })
  }
  return { grant: result.grant, created: result.change === 'created' }
}

/**
 * DELETE of a grant (with `expectedVersion`, If-Match: only at that version). A member's grant
 * in the default workspace stays: every member is there.
 */
export async function removeGrant(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string,
  principal: PrincipalRef,
  expectedVersion?: number
): Promise<void> {
  const workspace = await requireWorkspace(ctx, organizationId, workspaceId)
  if (workspace.is_default && principal.type === 'member') {
    throw conflict(
      'Every member belongs to the default workspace; change their roles there instead.',
      'member_id'
    )
  }
  const noGrant = () =>
    new AppError(
      'not_found',
      `The ${principal.type} ${principal.id} has no grant in workspace ${workspaceId}.`,
      principalParam(principal)
    )
  const existing = await grants.get(ctx.db, organizationId, workspaceId, principal)
  if (!existing) throw noGrant()
  if (expectedVersion !== undefined && existing.version !== expectedVersion) {
    throw staleVersion('grant', existing.version, expectedVersion)
  }
  if (!(await grants.remove(ctx.db, organizationId, workspaceId, principal, expectedVersion))) {
    // Changed or removed since it was read: a caller holding an ETag has a stale view.
    if (
      expectedVersion !== undefined &&
      (await grants.get(ctx.db, organizationId, workspaceId, principal))
    ) {
      throw preconditionFailed('The grant was changed by another request; read it again.')
    }
    throw noGrant()
  }
  await recordAudit(ctx, organizationId, {
    event_type: 'workspace.access_removed',
    target: { type: principal.type, id: principal.id },
    workspace_id: workspaceId,
    before: existing,
  })
}

export async function listWorkspaceAccess(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string,
  page: PageRequest
) {
  await requireWorkspace(ctx, organizationId, workspaceId)
  return grants.listForWorkspace(ctx.db, organizationId, workspaceId, page)
}

/** Removes every grant of a principal (member removal, group deletion), auditing each. */
export async function removeAllGrantsOf(
  ctx: ServiceContext,
  organizationId: string,
  principal: PrincipalRef
): Promise<void> {
  for (const grant of await grants.allOfPrincipal(ctx.db, organizationId, principal)) {
    if (await grants.remove(ctx.db, organizationId, grant.workspace_id, principal)) {
      await recordAudit(ctx, organizationId, {
        event_type: 'workspace.access_removed',
        target: { type: principal.type, id: principal.id },
        workspace_id: grant.workspace_id,
        before: grant,
      })
    }
  }
}

// ----- Group closure and effective access -------------------------------------------------

/** A group that contains a member, and one shortest chain of groups leading to it. */
export interface GroupReach {
  group: Group
  /** From a group the member is directly in, to this group (inclusive). */
  path: string[]
}

/**
 * Every group containing a member whose direct groups are `directGroupIds`, directly or through
 * nesting: one BatchGet per nesting level (groups.parentsOf). Reads grow with the number of
 * groups the member is in, not with the organization. Breadth-first (walkNesting), so each
 * group's path is a shortest one, and any cycle is harmless.
 */
export async function groupClosure(
  ctx: Pick<ServiceContext, 'db'>,
  organizationId: string,
  directGroupIds: readonly string[]
): Promise<Map<string, GroupReach>> {
  const walked = await walkNesting(
    directGroupIds,
    (ids) => groups.parentsOf(ctx.db, organizationId, ids),
    (group) => group.parent_group_ids
  )
  return new Map([...walked].map(([id, { node, path }]) => [id, { group: node, path }]))
}

export type AccessSource =
  | { type: 'direct' }
  | { type: 'group'; group_id: string; group_name: string; path: string[] }

export interface EffectiveAccess {
  object: 'effective_access'
  organization_id: string
  member_id: string
  member_status: 'active' | 'deactivated'
  org_roles: { role: OrgRole; sources: AccessSource[] }[]
  groups: { id: string; name: string; org_role: OrgRole | null; path: string[] }[]
  workspaces: {
    workspace_id: string
    workspace_name: string
    workspace_status: 'active' | 'archived'
    is_default: boolean
    roles: { role: WorkspaceRole; sources: AccessSource[] }[]
  }[]
}

function groupSource(reach: GroupReach): AccessSource {
  return {
    type: 'group',
    group_id: reach.group.id,
    group_name: reach.group.name,
    path: reach.path,
  }
}

/** Direct first, then groups by path length and id. */
function sortSources(sources: AccessSource[]): AccessSource[] {
  const rank = (s: AccessSource) => (s.type === 'direct' ? 0 : s.path.length)
  const id = (s: AccessSource) => (s.type === 'direct' ? '' : s.group_id)
  return sources.sort((a, b) => rank(a) - rank(b) || id(a).localeCompare(id(b)))
}

/**
 * A member's roles with where each comes from: their own org role and grants, and those of
 * every group that contains them (with the chain of groups). Answers "why does she have access?".
 */
export async function effectiveAccess(
  ctx: ServiceContext,
  organizationId: string,
  memberId: string
): Promise<EffectiveAccess> {
  const stored = await members.find(ctx.db, organizationId, memberId)
  if (stored?.state !== 'ready') throw notFound('member', memberId, 'id')
  const { member } = stored
  const closure = await groupClosure(ctx, organizationId, stored.groupIds)
  const reaches = [...closure.values()]

  const orgRoles = new Map<OrgRole, AccessSource[]>([[member.org_role, [{ type: 'direct' }]]])
  for (const reach of reaches) {
    if (!reach.group.org_role) continue
    const list = orgRoles.get(reach.group.org_role) ?? []
    list.push(groupSource(reach))
    orgRoles.set(reach.group.org_role, list)
  }

  const principals: { ref: PrincipalRef; source: AccessSource }[] = [
    { ref: { type: 'member', id: memberId }, source: { type: 'direct' } },
    ...reaches.map((reach) => ({
      ref: { type: 'group' as const, id: reach.group.id },
      source: groupSource(reach),
    })),
  ]
  const grantLists = await Promise.all(
    principals.map((p) => grants.allOfPrincipal(ctx.db, organizationId, p.ref))
  )
  const byWorkspace = new Map<string, Map<WorkspaceRole, AccessSource[]>>()
  grantLists.forEach((list, index) => {
    for (const grant of list) {
      const roles = byWorkspace.get(grant.workspace_id) ?? new Map()
      for (const role of grant.roles) {
        const sources = roles.get(role) ?? []
        sources.push(principals[index]!.source)
        roles.set(role, sources)
      }
      byWorkspace.set(grant.workspace_id, roles)
    }
  })
  const workspaceIds = [...byWorkspace.keys()].sort()
  const found = await Promise.all(
    workspaceIds.map((id) => workspaces.get(ctx.db, organizationId, id))
  )

  return {
    object: 'effective_access',
    organization_id: organizationId,
    member_id: memberId,
    member_status: member.status,
    org_roles: [...orgRoles.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([role, sources]) => ({ role, sources: sortSources(sources) })),
    groups: reaches
      .sort((a, b) => a.path.length - b.path.length || a.group.id.localeCompare(b.group.id))
      .map((reach) => ({
        id: reach.group.id,
        name: reach.group.name,
        org_role: reach.group.org_role,
        path: reach.path,
      })),
    workspaces: workspaceIds.flatMap((id, index) => {
      const workspace = found[index]
      if (!workspace) return []
      const roles = byWorkspace.get(id)!
      return [
        {
          workspace_id: id,
          workspace_name: workspace.name,
          workspace_status: workspace.status,
          is_default: workspace.is_default,
          roles: normalizeRoles([...roles.keys()]).map((role) => ({
            role,
            sources: sortSources(roles.get(role)!),
          })),
        },
      ]
    }),
  }
}
