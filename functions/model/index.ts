/**
 * The Admin model's record types, in their API (snake_case) shape. Shared by the store (which
 * maps items to these), the domain services and the routes; it depends on nothing.
 */

export const ORG_ROLES = ['organization_admin', 'billing_manager', 'member'] as const
export type OrgRole = (typeof ORG_ROLES)[number]

export const WORKSPACE_ROLES = [
  'workspace_admin',
  'workspace_contributor',
  'user',
  'dev',
  'code_user',
  'billing',
  'observability_viewer',
] as const
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number]

/** Who made a change (audit log) or holds a credential. */
export interface Actor {
  type: 'operator' | 'service_key' | 'admin_key' | 'scim_token' | 'api_key' | 'invite' | 'system'
  id: string
}

export interface OrganizationSettings {
  /** Longest validity of a workspace API key, in days; null = no limit. */
  api_key_max_validity_days: number | null
}

export interface Organization {
  id: string
  object: 'organization'
  name: string
  currency: string
  settings: OrganizationSettings
  default_workspace_id: string
  created_at: string
  updated_at: string
  version: number
}

export interface Workspace {
  id: string
  object: 'workspace'
  organization_id: string
  name: string
  description: string | null
  is_default: boolean
  status: 'active' | 'archived'
  archived_at: string | null
  created_at: string
  updated_at: string
  version: number
}

export type KeyStatus = 'active' | 'revoked'

export interface AdminKey {
  id: string
  object: 'admin_key'
  organization_id: string
  name: string
  org_roles: OrgRole[]
  redacted_value: string
  status: KeyStatus
  created_by: Actor
  created_at: string
  expires_at: string | null
  revoked_at: string | null
}

export interface ServiceKey {
  id: string
  object: 'service_key'
  name: string
  redacted_value: string
  status: KeyStatus
  created_at: string
  revoked_at: string | null
}

/** What a presented secret resolves to; stored under the secret's hash only. */
export interface Credential {
  kind: 'service' | 'admin' | 'scim' | 'api_key'
  key_id: string
  organization_id?: string
  org_roles?: OrgRole[]
  workspace_id?: string
  member_id?: string
  expires_at?: string | null
}

export interface AuditEvent {
  id: string
  object: 'audit_event'
  organization_id: string
  occurred_at: string
  event_type: string
  actor: Actor
  target: { type: string; id: string }
  workspace_id: string | null
  before: unknown
  after: unknown
  request_id: string | null
}
