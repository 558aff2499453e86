import { z } from '@hono/zod-openapi'
import {
  INVITE_STATUSES,
  MEMBER_STATUSES,
  ORG_ROLES,
  PRODUCTS,
  WORKSPACE_ROLES,
} from '../../../model/index.js'
import { ActorSchema, OrgRoleSchema } from './core.js'

/** Schemas of members, groups, invites, workspace access, seats and workspace API keys. */

export const WorkspaceRoleSchema = z.enum(WORKSPACE_ROLES).openapi('WorkspaceRole')
export const ProductSchema = z.enum(PRODUCTS).openapi('Product')
export const MemberStatusSchema = z.enum(MEMBER_STATUSES)

export const EmailSchema = z
  .email()
  .max(320)
  .openapi({ example: 'ada@example.com', description: 'Unique per organization, any case' })

export const RolesSchema = z
  .array(WorkspaceRoleSchema)
  .min(1)
  .max(WORKSPACE_ROLES.length * 2)
  .openapi({ description: 'At least one workspace role; duplicates are ignored' })

export const WorkspaceRolesSchema = z
  .object({ workspace_id: z.string().min(1).max(100), roles: RolesSchema })
  .strict()
  .openapi('WorkspaceRoles')

export const WorkspaceRolesListSchema = z.array(WorkspaceRolesSchema).max(100).openapi({
  description:
    'Workspaces and roles. Every member is in the default workspace (workspace_contributor unless listed here).',
})

export const MemberSchema = z
  .object({
    id: z.string().openapi({ example: 'mem_01JD4V6S9Y3T2WQ7P1J5KX8N0M' }),
    object: z.literal('member'),
    organization_id: z.string(),
    email: z.string(),
    name: z.string(),
    given_name: z.string().nullable(),
    family_name: z.string().nullable(),
    external_id: z
      .string()
      .nullable()
      .openapi({ description: "The identity provider's id (SCIM externalId)" }),
    scim_managed: z.boolean().openapi({
      description: 'Created or changed through SCIM by an identity provider (stays true)',
    }),
    org_role: OrgRoleSchema,
    status: MemberStatusSchema,
    created_at: z.string(),
    updated_at: z.string(),
    version: z.number().int(),
  })
  .openapi('Member')

export const GroupSchema = z
  .object({
    id: z.string().openapi({ example: 'grp_01JD4V6S9Y3T2WQ7P1J5KX8N0M' }),
    object: z.literal('group'),
    organization_id: z.string(),
    name: z.string(),
    org_role: OrgRoleSchema.nullable(),
    external_id: z
      .string()
      .nullable()
      .openapi({ description: "The identity provider's id (SCIM externalId)" }),
    scim_managed: z.boolean(),
    parent_group_ids: z.array(z.string()),
    subgroup_ids: z.array(z.string()),
    created_at: z.string(),
    updated_at: z.string(),
    version: z.number().int(),
  })
  .openapi('Group')

export const GroupMembershipSchema = z
  .object({
    object: z.literal('group_membership'),
    group_id: z.string(),
    member_id: z.string(),
    created_at: z.string(),
  })
  .openapi('GroupMembership')

export const InviteSchema = z
  .object({
    id: z.string().openapi({ example: 'inv_01JD4V6S9Y3T2WQ7P1J5KX8N0M' }),
    object: z.literal('invite'),
    organization_id: z.string(),
    email: z.string(),
    org_role: OrgRoleSchema,
    workspaces: z.array(WorkspaceRolesSchema),
    status: z.enum(INVITE_STATUSES),
    created_by: ActorSchema,
    created_at: z.string(),
    expires_at: z.string(),
    accepted_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    member_id: z.string().openapi({ description: 'The id the member gets on acceptance' }),
  })
  .openapi('Invite')

export const InviteWithTokenSchema = InviteSchema.extend({
  token: z
    .string()
    .openapi({ description: 'One-time token, shown once; only its hash is stored.' }),
}).openapi('InviteWithToken')

export const PrincipalSchema = z
  .object({ type: z.enum(['member', 'group']), id: z.string() })
  .openapi('Principal')

export const WorkspaceGrantSchema = z
  .object({
    object: z.literal('workspace_grant'),
    organization_id: z.string(),
    workspace_id: z.string(),
    principal: PrincipalSchema,
    roles: z.array(WorkspaceRoleSchema),
    created_at: z.string(),
    updated_at: z.string(),
    version: z.number().int(),
  })
  .openapi('WorkspaceGrant')

const AccessSourceSchema = z
  .union([
    z.object({ type: z.literal('direct') }),
    z.object({
      type: z.literal('group'),
      group_id: z.string(),
      group_name: z.string(),
      path: z.array(z.string()).openapi({
        description: 'Groups from one the member is directly in to the granting group',
      }),
    }),
  ])
  .openapi('AccessSource')

export const EffectiveAccessSchema = z
  .object({
    object: z.literal('effective_access'),
    organization_id: z.string(),
    member_id: z.string(),
    member_status: MemberStatusSchema,
    org_roles: z.array(z.object({ role: z.enum(ORG_ROLES), sources: z.array(AccessSourceSchema) })),
    groups: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        org_role: OrgRoleSchema.nullable(),
        path: z.array(z.string()),
      })
    ),
    workspaces: z.array(
      z.object({
        workspace_id: z.string(),
        workspace_name: z.string(),
        workspace_status: z.enum(['active', 'archived']),
        is_default: z.boolean(),
        roles: z.array(
          z.object({ role: WorkspaceRoleSchema, sources: z.array(AccessSourceSchema) })
        ),
      })
    ),
  })
  .openapi('EffectiveAccess')

export const SeatPoolSchema = z
  .object({
    object: z.literal('seat_pool'),
    product: ProductSchema,
    purchased: z.number().int(),
    assigned: z.number().int(),
    version: z.number().int(),
  })
  .openapi('SeatPool')

export const SeatAssignmentSchema = z
  .object({
    object: z.literal('seat_assignment'),
    product: ProductSchema,
    member_id: z.string(),
    assigned_at: z.string(),
  })
  .openapi('SeatAssignment')

export const ApiKeySchema = z
  .object({
    id: z.string().openapi({ example: 'key_01JD4V6S9Y3T2WQ7P1J5KX8N0M' }),
    object: z.literal('api_key'),
    organization_id: z.string(),
    workspace_id: z.string(),
    member_id: z.string().nullable(),
    name: z.string(),
    redacted_value: z.string(),
    status: z.enum(['active', 'revoked']),
    created_by: ActorSchema,
    created_at: z.string(),
    expires_at: z.string().nullable(),
    last_used_at: z.string().nullable(),
    rotated_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
  })
  .openapi('ApiKey')

export const ApiKeyWithSecretSchema = ApiKeySchema.extend({
  secret: z.string().openapi({ description: 'Shown once; only its hash is stored.' }),
}).openapi('ApiKeyWithSecret')

/** `{object: "<type>.deleted", id, deleted: true}` as OpenAI answers a DELETE. */
export function deletedSchema<T extends string>(object: T) {
  return z.object({ object: z.literal(object), id: z.string(), deleted: z.literal(true) })
}
