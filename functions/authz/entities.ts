import { WORKSPACE_ROLES, type WorkspaceRole } from '../model/index.js'
import type { CedarValue, EntityJson, EntityRef } from './engine.js'
import type { ApiKeyFacts, GroupFacts, MemberFacts, OrgFacts, WorkspaceFacts } from './facts.js'

/**
 * Cedar entities from store facts (schema: policies/schema.cedarschema). Pure functions: the
 * decision path (decisions.ts), the Admin guard and the role catalogue's probes all build
 * their entities here, so every decision sees the same shapes.
 */

export const organizationRef = (id: string): EntityRef => ({ type: 'Organization', id })
export const workspaceRef = (id: string): EntityRef => ({ type: 'Workspace', id })
export const orgRoleRef = (role: string): EntityRef => ({ type: 'OrgRole', id: role })
export const groupRef = (id: string): EntityRef => ({ type: 'Group', id })

/** The entity of role `role` in workspace `workspaceId`: `WorkspaceRole::"<ws>/<role>"`. */
export function workspaceRoleRef(workspaceId: string, role: WorkspaceRole): EntityRef {
  return { type: 'WorkspaceRole', id: `${workspaceId}/${role}` }
}

const entity = (ref: EntityRef) => ({ __entity: ref })

/** Cedar's JSON for a datetime (an extension value). */
export function cedarDatetime(iso: string): CedarValue {
  return { __extn: { fn: 'datetime', arg: iso } }
}

export function organizationEntity(org: OrgFacts): EntityJson {
  return {
    uid: organizationRef(org.id),
    attrs: { suspended: org.suspended, sells_chat_seats: org.sellsChatSeats },
    parents: [],
  }
}

export function workspaceEntity(
  organizationId: string,
  workspace: WorkspaceFacts,
  suspended: boolean
): EntityJson {
  return {
    uid: workspaceRef(workspace.id),
    attrs: {
      archived: workspace.archived,
      is_default: workspace.isDefault,
      suspended,
      organization: entity(organizationRef(organizationId)),
      roles: Object.fromEntries(
        WORKSPACE_ROLES.map((role) => [role, entity(workspaceRoleRef(workspace.id, role))])
      ),
    },
    parents: [organizationRef(organizationId)],
  }
}

/** A group reached from the member, with its roles in the requested workspace. */
export interface ReachedGroup {
  facts: GroupFacts
  roles: readonly WorkspaceRole[]
}

/**
 * The member and every group containing it (`groups`: the closure, nested groups included),
 * for a request about workspace `workspaceId`. Each carries as parents its org role, its
 * grants in that workspace only (as WorkspaceRole entities) and the groups it is in; Cedar's
 * transitive closure then gives the member the union of all of them. Parents that are not in
 * `groups` (deleted meanwhile) are left out.
 */
export function memberEntities(
  organizationId: string,
  workspaceId: string,
  member: MemberFacts,
  memberRoles: readonly WorkspaceRole[],
  groups: ReadonlyMap<string, ReachedGroup>
): EntityJson[] {
  const roleRefs = (roles: readonly WorkspaceRole[]) =>
    roles.map((role) => workspaceRoleRef(workspaceId, role))
  const groupRefs = (ids: readonly string[]) => ids.filter((id) => groups.has(id)).map(groupRef)
  const entities: EntityJson[] = [
    {
      uid: { type: 'Member', id: member.id },
      attrs: {
        status: member.status,
        seats: [...member.seats],
        organization: entity(organizationRef(organizationId)),
      },
      parents: [
        ...groupRefs(member.groupIds),
        orgRoleRef(member.orgRole),
        ...roleRefs(memberRoles),
        organizationRef(organizationId),
      ],
    },
  ]
  for (const { facts, roles } of groups.values()) {
    entities.push({
      uid: groupRef(facts.id),
      attrs: {},
      parents: [
        ...groupRefs(facts.parentIds),
        ...(facts.orgRole ? [orgRoleRef(facts.orgRole)] : []),
        ...roleRefs(roles),
      ],
    })
  }
  return entities
}

export function apiKeyEntity(
  organizationId: string,
  key: ApiKeyFacts,
  memberActive: boolean
): EntityJson {
  return {
    uid: { type: 'ApiKey', id: key.id },
    attrs: {
      status: key.status,
      ...(key.expiresAt ? { expires_at: cedarDatetime(key.expiresAt) } : {}),
      workspace: entity(workspaceRef(key.workspaceId)),
      organization: entity(organizationRef(organizationId)),
      member_active: memberActive,
    },
    parents: [workspaceRef(key.workspaceId)],
  }
}

export function adminKeyEntity(
  keyId: string,
  organizationId: string,
  orgRoles: readonly string[]
): EntityJson {
  return {
    uid: { type: 'AdminKey', id: keyId },
    attrs: { organization: entity(organizationRef(organizationId)) },
    parents: orgRoles.map(orgRoleRef),
  }
}
