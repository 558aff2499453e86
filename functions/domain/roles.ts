import { ADMIN_ACTIONS, type AdminAction, authorizeAdmin } from '../authz/admin.js'
import { ORG_ROLES, type OrgRole } from '../model/index.js'

export interface RoleDescription {
  name: string
  object: 'role'
  scope: 'organization' | 'workspace'
  description: string
  /** The actions the role allows, as decided by the Cedar policies (not a copy of them). */
  actions: string[]
}

const ORG_ROLE_DESCRIPTIONS: Record<OrgRole, string> = {
  organization_admin: 'Full control of the organization, its workspaces, members and settings.',
  billing_manager: 'Reads everything; manages spend limits, prices and seats.',
  member: 'Reads the organization, its workspaces and the roles.',
}

let cached: RoleDescription[] | undefined

/**
 * The role catalogue. Each role's actions are found by asking the policy engine, for every
 * action, whether a key holding only that role may do it inside its own organization.
 */
export function listRoles(): RoleDescription[] {
  cached ??= ORG_ROLES.map((role) => ({
    name: role,
    object: 'role' as const,
    scope: 'organization' as const,
    description: ORG_ROLE_DESCRIPTIONS[role],
    actions: (Object.keys(ADMIN_ACTIONS) as AdminAction[]).filter((action) =>
      roleAllows(role, action)
    ),
  }))
  return cached
}

function roleAllows(role: OrgRole, action: AdminAction): boolean {
  const principal = { id: 'adk_probe', organizationId: 'org_probe', orgRoles: [role] }
  const resource =
    ADMIN_ACTIONS[action] === 'Workspace'
      ? {
          type: 'Workspace' as const,
          workspace: {
            id: 'ws_probe',
            object: 'workspace' as const,
            organization_id: 'org_probe',
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
      : { type: 'Organization' as const, organizationId: 'org_probe' }
  return authorizeAdmin(principal, action, resource).decision === 'allow'
}
