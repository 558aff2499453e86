import { type OrgRole, PRODUCTS, type WorkspaceRole } from '../model/index.js'
import { ADMIN_ACTIONS, type AdminAction, adminRequest } from './admin.js'
import { decide, type EntityJson } from './engine.js'
import { cedarDatetime, memberEntities, organizationEntity, workspaceEntity } from './entities.js'
import type { OrgFacts } from './facts.js'

/**
 * What a role allows, asked of the policy engine (the role catalogue, domain/roles.ts): one
 * decision inside a probe organization where nothing but the role is in the way — every seat
 * held, an active member, an active workspace within budget.
 */

const PROBE_ORG: OrgFacts = { id: 'org_probe', suspended: false, sellsChatSeats: true }
const PROBE_WORKSPACE = { id: 'ws_probe', archived: false, isDefault: false }

/** Whether an admin key holding only org role `role` may do Admin action `action`. */
export function orgRoleAllows(role: OrgRole, action: AdminAction): boolean {
  const principal = { id: 'adk_probe', organizationId: PROBE_ORG.id, orgRoles: [role] }
  const resource =
    ADMIN_ACTIONS[action] === 'Workspace'
      ? {
          type: 'Workspace' as const,
          workspace: {
            id: PROBE_WORKSPACE.id,
            object: 'workspace' as const,
            organization_id: PROBE_ORG.id,
            name: 'probe',
            description: null,
            is_default: false,
            status: 'active' as const,
            archived_at: null,
            created_at: '',
            updated_at: '',
            version: 1,
          },
        }
      : { type: 'Organization' as const, organizationId: PROBE_ORG.id }
  const request = adminRequest(principal, action, resource, {
    organization: PROBE_ORG,
    workspaceSuspended: false,
  })
  return decide(request).decision === 'allow'
}

/** A member with org role `orgRole` and `roles` in the probe workspace, holding every seat. */
export function memberAllows(orgRole: OrgRole, roles: WorkspaceRole[], action: string): boolean {
  const member = {
    id: 'mem_probe',
    status: 'active' as const,
    orgRole,
    groupIds: [],
    seats: [...PRODUCTS],
  }
  const entities: EntityJson[] = [
    organizationEntity(PROBE_ORG),
    workspaceEntity(PROBE_ORG.id, PROBE_WORKSPACE, false),
    ...memberEntities(PROBE_ORG.id, PROBE_WORKSPACE.id, member, roles, new Map()),
  ]
  return (
    decide({
      principal: { type: 'Member', id: member.id },
      action,
      resource: { type: 'Workspace', id: PROBE_WORKSPACE.id },
      entities,
      context: { now: cedarDatetime('2026-01-01T00:00:00Z') },
    }).decision === 'allow'
  )
}
