import type { OrgRole, Workspace } from '../model/index.js'
import type { AuthorizationRequest, EntityRef } from './engine.js'
import {
  adminKeyEntity,
  organizationEntity,
  organizationRef,
  workspaceEntity,
  workspaceRef,
} from './entities.js'
import type { OrgFacts } from './facts.js'

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
  read_rate_limits: 'Organization|Workspace',
  update_rate_limits: 'Organization|Workspace',
  read_scim_tokens: 'Organization',
  manage_scim_tokens: 'Organization',
  read_policies: 'Organization',
  manage_policies: 'Organization',
  request_decisions: 'Organization',
  read_decisions: 'Organization',
  simulate_policies: 'Organization',
  read_webhooks: 'Organization',
  manage_webhooks: 'Organization',
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

/** What an Admin decision reads besides the key: the resource's organization and budgets. */
export interface AdminResourceFacts {
  organization: OrgFacts
  /** The workspace's own hard limit is exhausted (Workspace resources). */
  workspaceSuspended: boolean
}

/**
 * The Cedar request for an Admin route: the key with its org roles, the organization, and
 * the workspace (from the record the route loaded, with its budget state) — the same entity
 * shapes as product decisions, evaluated against the same policy set.
 */
export function adminRequest(
  principal: AdminKeyPrincipal,
  action: AdminAction,
  resource: AdminResource,
  facts: AdminResourceFacts
): AuthorizationRequest {
  const entities = [
    adminKeyEntity(principal.id, principal.organizationId, principal.orgRoles),
    organizationEntity(facts.organization),
  ]
  let resourceRef: EntityRef
  if (resource.type === 'Workspace') {
    const { workspace } = resource
    entities.push(
      workspaceEntity(
        workspace.organization_id,
        {
          id: workspace.id,
          archived: workspace.status === 'archived',
          isDefault: workspace.is_default,
        },
        facts.workspaceSuspended
      )
    )
    resourceRef = workspaceRef(workspace.id)
  } else {
    resourceRef = organizationRef(resource.organizationId)
  }
  return {
    principal: { type: 'AdminKey', id: principal.id },
    action,
    resource: resourceRef,
    entities,
  }
}

export function resourceOrganizationId(resource: AdminResource): string {
  return resource.type === 'Organization'
    ? resource.organizationId
    : resource.workspace.organization_id
}
