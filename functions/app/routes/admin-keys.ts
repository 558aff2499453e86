import { OpenAPIHono, z } from '@hono/zod-openapi'
import { createAdminKey, listAdminKeys, revokeAdminKey } from '../../domain/keys.js'
import { listBody, pageRequest } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import { guard, serviceContext } from '../http/handlers.js'
import {
  AUTH_ERRORS,
  errorResponses,
  IdempotencyHeader,
  IdParam,
  json,
  jsonBody,
  listOf,
  PageQuery,
  Timestamp,
} from '../http/openapi.js'
import { ADMIN, ADMIN_CREATE, securedRoute } from '../http/route.js'
import {
  AdminKeySchema,
  AdminKeyWithSecretSchema,
  NameSchema,
  OrgRoleSchema,
} from '../http/schemas/core.js'

export const adminKeyRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Admin keys']

adminKeyRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/admin-keys',
    tags,
    summary: 'List admin keys',
    request: { query: PageQuery },
    responses: {
      200: json(listOf(AdminKeySchema), 'Admin keys'),
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_admin_keys')
    const page = await listAdminKeys(
      serviceContext(c),
      organizationId,
      pageRequest(c, c.req.valid('query'))
    )
    return c.json(listBody(c, page), 200)
  }
)

adminKeyRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'post',
    path: '/v1/admin-keys',
    tags,
    summary: 'Create an admin key holding organization roles',
    request: {
      headers: IdempotencyHeader,
      body: jsonBody(
        z
          .object({
            name: NameSchema,
            org_roles: z.array(OrgRoleSchema).min(1),
            expires_at: Timestamp.nullable().optional(),
          })
          .strict()
      ),
    },
    responses: {
      201: json(AdminKeyWithSecretSchema, 'Created; the secret is shown only here'),
      ...errorResponses(...AUTH_ERRORS, 409),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_admin_keys')
    const key = await createAdminKey(serviceContext(c), organizationId, c.req.valid('json'))
    return c.json(key, 201)
  }
)

adminKeyRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'delete',
    path: '/v1/admin-keys/{id}',
    tags,
    summary: 'Revoke an admin key (its secret stops working at once)',
    request: { params: IdParam },
    responses: {
      200: json(AdminKeySchema, 'The revoked key'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_admin_keys')
    const key = await revokeAdminKey(serviceContext(c), organizationId, c.req.valid('param').id)
    return c.json(key, 200)
  }
)
