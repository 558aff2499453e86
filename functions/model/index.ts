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

/** The product actions `/v1/authorize` decides (the schema's `product_action` group). */
export const PRODUCT_ACTIONS = [
  'use_chat',
  'use_studio',
  'use_code',
  'invoke_model',
  'manage_api_keys',
  'read_usage',
  'view_observability',
  'administer_workspace',
] as const
export type ProductAction = (typeof PRODUCT_ACTIONS)[number]

/** Who made a change (audit log) or holds a credential. */
export interface Actor {
  type: 'operator' | 'service_key' | 'admin_key' | 'scim_token' | 'api_key' | 'invite' | 'system'
  id: string
}

export interface OrganizationSettings {
  /** Longest validity of a workspace API key, in days; null = no limit. */
  api_key_max_validity_days: number | null
  /** Share of allowed decisions the decision log keeps (0..1; denies always); absent = 1. */
  decision_log_sample_rate?: number
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

/** An organization's SCIM token: the credential an identity provider uses on /scim/v2. */
export interface ScimToken {
  id: string
  object: 'scim_token'
  organization_id: string
  name: string
  redacted_value: string
  status: KeyStatus
  created_by: Actor
  created_at: string
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

// ----- Members, groups, invites, workspace access, seats, workspace API keys -------------

export const MEMBER_STATUSES = ['active', 'deactivated'] as const
export type MemberStatus = (typeof MEMBER_STATUSES)[number]

export interface Member {
  id: string
  object: 'member'
  organization_id: string
  email: string
  name: string
  /** Structured name parts (SCIM `name.givenName` / `name.familyName`); `name` is the display name. */
  given_name: string | null
  family_name: string | null
  /** The identity provider's id for the member (SCIM `externalId`). */
  external_id: string | null
  /** Created or changed through SCIM (it stays true): managed by an identity provider. */
  scim_managed: boolean
  org_role: OrgRole
  status: MemberStatus
  created_at: string
  updated_at: string
  version: number
}

export interface Group {
  id: string
  object: 'group'
  organization_id: string
  name: string
  /** An org role every member of the group (directly or through nesting) holds. */
  org_role: OrgRole | null
  /** The identity provider's id for the group (SCIM `externalId`). */
  external_id: string | null
  /** Created or changed through SCIM (it stays true). */
  scim_managed: boolean
  /** Groups this group is a subgroup of (its members are members of those too). */
  parent_group_ids: string[]
  subgroup_ids: string[]
  created_at: string
  updated_at: string
  version: number
}

export interface GroupMembership {
  object: 'group_membership'
  group_id: string
  member_id: string
  created_at: string
}

export type PrincipalType = 'member' | 'group'

/** Workspace roles granted to one member or group in one workspace. */
export interface WorkspaceGrant {
  object: 'workspace_grant'
  organization_id: string
  workspace_id: string
  principal: { type: PrincipalType; id: string }
  roles: WorkspaceRole[]
  created_at: string
  updated_at: string
  version: number
}

/** A workspace and the roles to hold in it (member creation, invites). */
export interface WorkspaceRoles {
  workspace_id: string
  roles: WorkspaceRole[]
}

export const INVITE_STATUSES = ['pending', 'accepted', 'revoked', 'expired'] as const
export type InviteStatus = (typeof INVITE_STATUSES)[number]

export interface Invite {
  id: string
  object: 'invite'
  organization_id: string
  email: string
  org_role: OrgRole
  workspaces: WorkspaceRoles[]
  status: InviteStatus
  created_by: Actor
  created_at: string
  expires_at: string
  accepted_at: string | null
  revoked_at: string | null
  /** The member the invite creates (known from the start, so a retried accept is the same). */
  member_id: string
}

export const PRODUCTS = ['chat', 'code'] as const
export type Product = (typeof PRODUCTS)[number]

export interface SeatPool {
  object: 'seat_pool'
  product: Product
  purchased: number
  assigned: number
  version: number
}

export interface SeatAssignment {
  object: 'seat_assignment'
  product: Product
  member_id: string
  assigned_at: string
}

export interface ApiKey {
  id: string
  object: 'api_key'
  organization_id: string
  workspace_id: string
  member_id: string | null
  name: string
  redacted_value: string
  status: KeyStatus
  created_by: Actor
  created_at: string
  expires_at: string | null
  last_used_at: string | null
  rotated_at: string | null
  revoked_at: string | null
}

// ----- Usage, prices, spend limits and budgets --------------------------------------------

/** One price of a model from `effective_from` on; amounts are decimal strings per million tokens. */
export interface PriceEntry {
  model: string
  input_per_million: string
  output_per_million: string
  per_request: string | null
  effective_from: string
}

/** A usage event as accepted by `POST /v1/usage/events`, with its cost fixed at ingestion. */
export interface UsageEvent {
  id: string
  organization_id: string
  workspace_id: string
  timestamp: string
  product: string
  model: string
  api_key_id: string | null
  member_id: string | null
  input_tokens: number
  output_tokens: number
  requests: number
  /** Integer micro-units of the organization's currency (the whole part of the exact cost). */
  cost_micros: number
  /**
   * The rest of the exact cost, in millionths of a micro-unit (0..999,999); absent = 0 (events
   * journaled before costs were kept below the micro-unit).
   */
  cost_sub_micros?: number
}

/** The dimensions usage is totalled by. */
export const USAGE_DIMENSIONS = [
  'workspace_id',
  'model',
  'product',
  'api_key_id',
  'member_id',
] as const
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number]

export type Enforcement = 'hard' | 'soft'

export interface SpendLimit {
  object: 'spend_limit'
  organization_id: string
  /** null for the organization's own limit. */
  workspace_id: string | null
  /** Decimal string in the organization's currency; null = no limit. */
  monthly_limit: string | null
  alert_thresholds_percent: number[]
  enforcement: Enforcement
  currency: string
  updated_at: string | null
  version: number
}

export type BudgetState = 'ok' | 'warning' | 'exceeded'

/** A threshold crossing, fired once per scope, month and threshold. */
export interface BudgetAlert {
  id: string
  object: 'budget_alert'
  organization_id: string
  workspace_id: string | null
  month: string
  threshold_percent: number
  spend: string
  limit: string
  currency: string
  enforcement: Enforcement
  suspended: boolean
  fired_at: string
}

/** Month-to-date spend of a scope against its limit, as of the last aggregation run. */
export interface Budget {
  object: 'budget'
  scope: 'organization' | 'workspace'
  organization_id: string
  workspace_id: string | null
  month: string
  currency: string
  spend: string
  /** Spend including ingested events not aggregated yet (absent where not computed). */
  live_spend?: string
  limit: string | null
  percent_used: number | null
  forecast_month_end: string
  state: BudgetState
  suspended: boolean
  enforcement: Enforcement
  alert_thresholds_percent: number[]
  alerts: BudgetAlert[]
  last_evaluated_at: string | null
}

/** What one aggregation pass did (`POST /v1/jobs/aggregate`, the schedule, the local timer). */
export interface AggregationSummary {
  run_id: string
  object: 'aggregation_run'
  /** `skipped`: another run held the job lock, so this one did nothing. */
  status: 'completed' | 'skipped'
  started_at: string
  finished_at: string
  rounds: number
  workspaces_evaluated: number
  events_aggregated: number
  duplicates_dropped: number
  alerts: BudgetAlert[]
  /** Skipped runs only (not in the API's body): when the running one's lease ends. */
  lock_held_until?: string
}

// ----- Authorization -----------------------------------------------------------------------

/** A Cedar policy an organization added (`PUT /v1/policies/{id}`); it governs product actions. */
export interface CustomPolicy {
  id: string
  object: 'policy'
  organization_id: string
  source: 'custom'
  effect: 'permit' | 'forbid'
  description: string
  /** The policy's Cedar text, as written. */
  cedar: string
  created_at: string
  updated_at: string
  version: number
}

/** One recorded product decision (`GET /v1/decisions`, docs/decision-log.md). */
export interface DecisionRecord {
  id: string
  object: 'decision'
  organization_id: string
  decided_at: string
  /** Who asked: a service key or an admin key of the organization. */
  caller: { type: 'service_key' | 'admin_key'; id: string }
  /** The request as decided (a malformed batch item: as sent, under `raw`). */
  request: {
    principal: { type: string; id: string } | null
    action: string | null
    resource: { type: string; id: string } | null
    context: Record<string, unknown> | null
  }
  decision: 'allow' | 'deny'
  determining_policies: { policy_id: string; description: string }[]
  errors: { code: string; message: string; policy_id?: string }[]
  /** The organization's revisions of the snapshot the decision was made against. */
  revision: { revision: number; policy_revision: number }
  expires_at: string
}
