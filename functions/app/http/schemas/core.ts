import { z } from '@hono/zod-openapi'
import { ORG_ROLES } from '../../../model/index.js'

/** Response and request schemas of the foundation resources (OpenAPI components). */

export const OrgRoleSchema = z.enum(ORG_ROLES).openapi('OrgRole')

export const ActorSchema = z
  .object({
    type: z.enum([
      'operator',
      'service_key',
      'admin_key',
      'scim_token',
      'api_key',
      'invite',
      'system',
    ]),
    id: z.string(),
  })
  .openapi('Actor')

export const OrganizationSchema = z
  .object({
    id: z.string().openapi({ example: 'org_01JD4V6S9Y3T2WQ7P1J5KX8N0M' }),
    object: z.literal('organization'),
    name: z.string(),
    currency: z.string(),
    settings: z.object({
      api_key_max_validity_days: z.number().int().nullable(),
      decision_log_sample_rate: z.number().min(0).max(1).optional().openapi({
        description:
          'Share of allowed decisions the decision log keeps (denies always); absent = 1',
      }),
    }),
    default_workspace_id: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    version: z.number().int(),
  })
  .openapi('Organization')

export const WorkspaceSchema = z
  .object({
    id: z.string().openapi({ example: 'ws_01JD4V6S9Y3T2WQ7P1J5KX8N0M' }),
    object: z.literal('workspace'),
    organization_id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    is_default: z.boolean(),
    status: z.enum(['active', 'archived']),
    archived_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    version: z.number().int(),
  })
  .openapi('Workspace')

export const AdminKeySchema = z
  .object({
    id: z.string(),
    object: z.literal('admin_key'),
    organization_id: z.string(),
    name: z.string(),
    org_roles: z.array(OrgRoleSchema),
    redacted_value: z.string(),
    status: z.enum(['active', 'revoked']),
    created_by: ActorSchema,
    created_at: z.string(),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
  })
  .openapi('AdminKey')

export const AdminKeyWithSecretSchema = AdminKeySchema.extend({
  secret: z.string().openapi({ description: 'Shown once; only its hash is stored.' }),
}).openapi('AdminKeyWithSecret')

export const ScimTokenSchema = z
  .object({
    id: z.string().openapi({ example: 'sct_01JD4V6S9Y3T2WQ7P1J5KX8N0M' }),
    object: z.literal('scim_token'),
    organization_id: z.string(),
    name: z.string(),
    redacted_value: z.string(),
    status: z.enum(['active', 'revoked']),
    created_by: ActorSchema,
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .openapi('ScimToken')

export const ScimTokenWithSecretSchema = ScimTokenSchema.extend({
  secret: z.string().openapi({ description: 'Shown once; only its hash is stored.' }),
}).openapi('ScimTokenWithSecret')

export const ServiceKeySchema = z
  .object({
    id: z.string(),
    object: z.literal('service_key'),
    name: z.string(),
    redacted_value: z.string(),
    status: z.enum(['active', 'revoked']),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .openapi('ServiceKey')

export const ServiceKeyWithSecretSchema = ServiceKeySchema.extend({
  secret: z.string().openapi({ description: 'Shown once; only its hash is stored.' }),
}).openapi('ServiceKeyWithSecret')

export const AuditEventSchema = z
  .object({
    id: z.string(),
    object: z.literal('audit_event'),
    organization_id: z.string(),
    occurred_at: z.string(),
    event_type: z.string().openapi({ example: 'workspace.created' }),
    actor: ActorSchema,
    target: z.object({ type: z.string(), id: z.string() }),
    workspace_id: z.string().nullable(),
    before: z.unknown(),
    after: z.unknown(),
    request_id: z.string().nullable(),
  })
  .openapi('AuditEvent')

export const RoleSchema = z
  .object({
    name: z.string(),
    object: z.literal('role'),
    scope: z.enum(['organization', 'workspace']),
    description: z.string(),
    actions: z.array(z.string()),
  })
  .openapi('Role')

/** Names: trimmed, 1–200 characters. */
export const NameSchema = z.string().trim().min(1).max(200)
