import { OpenAPIHono, z } from '@hono/zod-openapi'
import { ADMIN_KEYS } from '../../domain/keys.js'
import type { AppEnv } from '../http/env.js'
import { Timestamp } from '../http/openapi.js'
import {
  AdminKeySchema,
  AdminKeyWithSecretSchema,
  NameSchema,
  OrgRoleSchema,
} from '../http/schemas/core.js'
import { secretHolderRoutes } from '../http/secret-holders.js'

export const adminKeyRoutes = new OpenAPIHono<AppEnv>()

secretHolderRoutes(adminKeyRoutes, {
  path: '/v1/admin-keys',
  tags: ['Admin keys'],
  owner: { by: 'admin', read: 'read_admin_keys', manage: 'manage_admin_keys' },
  holders: ADMIN_KEYS,
  schemas: {
    record: AdminKeySchema,
    withSecret: AdminKeyWithSecretSchema,
    create: z
      .object({
        name: NameSchema,
        org_roles: z.array(OrgRoleSchema).min(1),
        expires_at: Timestamp.nullable().optional(),
      })
      .strict(),
  },
  text: {
    list: 'List admin keys',
    listed: 'Admin keys',
    create: 'Create an admin key holding organization roles',
    revoke: 'Revoke an admin key (its secret stops working at once)',
    revoked: 'The revoked key',
  },
})
