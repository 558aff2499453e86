import type { OrgRole, Workspace } from '../model/index.js'
import { type Decision, decide, type EntityJson, type EntityRef } from './engine.js'

/** The Admin API actions of the schema, with the resource type each is asked about. */
export const ADMIN_ACTIONS = {
  read_organization: 'Organization',
  read_roles: 'Organization',
  read_workspace: 'Organization|Workspace',
  read_admin_keys: 'Organization',
  read_audit_log: 'Organization',
  update_organization: 'Organization',
  create_workspace: 'Organization',
  manage_admin_keys: 'Organization',
  update_workspace: 'Workspace',
  archive_workspace: 'Workspace',
  read_members: 'Organization',
  read_invites: 'Organization',
  read_groups: 'Organization',
  read_seats: 'Organization',
  read_workspace_access: 'Organization|Workspace',
  read_workspace_api_keys: 'Organization|Workspace',
  manage_members: 'Organization',
  manage_invites: 'Organization',
  manage_groups: 'Organization',
  manage_workspace_access: 'Workspace',
  manage_workspace_api_keys: 'Workspace',
  manage_seats: 'Organization',
  read_usage_reports: 'Organization',
  read_prices: 'Organization',
  read_budgets: 'Organization|Workspace',
  update_prices: 'Organization',
  update_spend_limits: 'Organization|Workspace',
  read_scim_tokens: 'Organization',
  manage_scim_tokens: 'Organization',
} as const

export type AdminAction = keyof typeof ADMIN_ACTIONS

export interface AdminKeyPrincipal {
  id: string
  organizationId: string
  orgRoles: readonly OrgRole[]
}

/** The resource an Admin route acts on: the organization itself or one of its workspaces. */
export type AdminResource =
  | { type: 'Organization'; organizationId: string }
  | { type: 'Workspace'; workspace: Workspace }

const organizationRef = (id: string): EntityRef => ({ type: 'Organization', id })

function adminKeyEntity(principal: AdminKeyPrincipal): EntityJson {
  return {
    uid: { type: 'AdminKey', id: principal.id },
    attrs: { organization: { __entity: organizationRef(principal.organizationId) } },
    parents: principal.orgRoles.map((role) => ({ type: 'OrgRole', id: role })),
  }
}

export function workspaceEntity(workspace: Workspace): EntityJson {
  return {
    uid: { type: 'Workspace', id: workspace.id },
    attrs: { archived: workspace.status === 'archived', is_default: workspace.is_default },
    parents: [organizationRef(workspace.organization_id)],
  }
}

/**
 * Asks Cedar whether an admin key may perform an Admin action on a resource. The entities are
 * exactly what the policies read: the key with its roles, the organization, and the resource.
 */
export function authorizeAdmin(
  principal: AdminKeyPrincipal,
  action: AdminAction,
  resource: AdminResource
): Decision {
  const resourceOrgId =
    resource.type === 'Organization' ? resource.organizationId : resource.workspace.organization_id
  const entities: EntityJson[] = [
    adminKeyEntity(principal),
    { uid: organizationRef(resourceOrgId), attrs: {}, parents: [] },
  ]
  if (resourceOrgId !== principal.organizationId) {
    entities.push({ uid: organizationRef(principal.organizationId), attrs: {}, parents: [] })
  }
  let resourceRef: EntityRef
  if (resource.type === 'Workspace') {
    entities.push(workspaceEntity(resource.workspace))
    resourceRef = { type: 'Workspace', id: resource.workspace.id }
  } else {
    resourceRef = organizationRef(resource.organizationId)
  }
  return decide({
    principal: { type: 'AdminKey', id: principal.id },
    action,
    resource: resourceRef,
    entities,
  })
}
