import { ADMIN_ACTIONS, type AdminAction, adminRequest } from '../authz/admin.js'
import { decide, type EntityJson } from '../authz/engine.js'
import { memberEntities, organizationEntity, workspaceEntity } from '../authz/entities.js'
import {
  ORG_ROLES,
  type OrgRole,
  PRODUCT_ACTIONS,
  PRODUCTS,
  WORKSPACE_ROLES,
  type WorkspaceRole,
} from '../model/index.js'
import type { OrgFacts } from '../store/decision-facts.js'

export interface RoleDescription {
  name: string
  object: 'role'
  scope: 'organization' | 'workspace'
  description: string
  /**
   * The actions the role allows, as decided by the Cedar policies (not a copy of them): for
   * an org role its Admin API actions and the product actions it allows in every workspace;
   * for a workspace role the product actions it allows in its workspace.
   */
  actions: string[]
}

const ORG_ROLE_DESCRIPTIONS: Record<OrgRole, string> = {
  organization_admin: 'Full control of the organization, its workspaces, members and settings.',
  billing_manager: 'Reads everything; manages spend limits, prices and seats.',
  member: 'Reads the organization, its workspaces and the roles.',
}

const WORKSPACE_ROLE_DESCRIPTIONS: Record<WorkspaceRole, string> = {
  workspace_admin: 'Every product action in the workspace.',
  workspace_contributor: 'Chat, Studio and code; invokes models and manages API keys.',
  user: 'Chat.',
  dev: 'Studio; invokes models and manages API keys.',
  code_user: 'Code.',
  billing: "Reads the workspace's usage.",
  observability_viewer: "Views the workspace's observability data.",
}

let cached: RoleDescription[] | undefined

/**
 * The role catalogue. Each role's actions are found by asking the policy engine, for every
 * action, whether a principal holding only that role may do it inside its own organization.
 * Product actions are asked with every seat held and no guardrail in the way (an active
 * member, an active workspace within budget): seats are a license, not part of a role.
 */
export function listRoles(): RoleDescription[] {
  cached ??= [
    ...ORG_ROLES.map((role) => ({
      name: role,
      object: 'role' as const,
      scope: 'organization' as const,
      description: ORG_ROLE_DESCRIPTIONS[role],
      actions: [
        ...(Object.keys(ADMIN_ACTIONS) as AdminAction[]).filter((action) =>
          orgRoleAllows(role, action)
        ),
        ...PRODUCT_ACTIONS.filter((action) => memberAllows(role, [], action)),
      ],
    })),
    ...WORKSPACE_ROLES.map((role) => ({
      name: role,
      object: 'role' as const,
      scope: 'workspace' as const,
      description: WORKSPACE_ROLE_DESCRIPTIONS[role],
      actions: PRODUCT_ACTIONS.filter((action) => memberAllows('member', [role], action)),
    })),
  ]
  return cached
}

const PROBE_ORG: OrgFacts = { id: 'org_probe', suspended: false, sellsChatSeats: true }
const PROBE_WORKSPACE = { id: 'ws_probe', archived: false, isDefault: false }

function orgRoleAllows(role: OrgRole, action: AdminAction): boolean {
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
function memberAllows(orgRole: OrgRole, roles: WorkspaceRole[], action: string): boolean {
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
      context: { now: { __extn: { fn: 'datetime', arg: '2026-01-01T00:00:00Z' } } },
    }).decision === 'allow'
  )
}
