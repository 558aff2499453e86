import { ADMIN_ACTIONS, type AdminAction } from '../authz/admin.js'
import { memberAllows, orgRoleAllows } from '../authz/role-probes.js'
import {
  ORG_ROLES,
  type OrgRole,
  PRODUCT_ACTIONS,
  WORKSPACE_ROLES,
  type WorkspaceRole,
} from '../model/index.js'

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
