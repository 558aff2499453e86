import { OpenAPIHono, z } from '@hono/zod-openapi'
import {
  createApiKey,
  getApiKey,
  listApiKeys,
  revokeApiKey,
  rotateApiKey,
} from '../../domain/api-keys.js'
import { getWorkspace } from '../../domain/workspaces.js'
import { listBody, pageRequest } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import { adminPrincipal, guard, serviceContext } from '../http/handlers.js'
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
import { ApiKeySchema, ApiKeyWithSecretSchema } from '../http/schemas/access.js'
import { NameSchema } from '../http/schemas/core.js'

export const apiKeyRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Workspace API keys']
const Id = z.string().min(1).max(100)

apiKeyRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/api-keys',
    tags,
    summary: 'List workspace API keys',
    request: {
      query: PageQuery.extend({
        workspace_id: Id.optional(),
        member_id: Id.optional(),
        status: z.enum(['active', 'revoked']).optional(),
      }),
    },
    responses: { 200: json(listOf(ApiKeySchema), 'API keys'), ...errorResponses(...AUTH_ERRORS) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_workspace_api_keys')
    const { workspace_id, member_id, status, ...page } = pageRequest(c, c.req.valid('query'))
    const result = await listApiKeys(serviceContext(c), organizationId, page, {
      workspace_id,
      member_id,
      status,
    })
    return c.json(listBody(c, result), 200)
  }
)

apiKeyRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'post',
    path: '/v1/api-keys',
    tags,
    summary:
      "Create a workspace API key; the secret is shown only here. Expiry is clamped to the organization's api_key_max_validity_days",
    request: {
      headers: IdempotencyHeader,
      body: jsonBody(
        z
          .object({
            name: NameSchema,
            workspace_id: Id,
            member_id: Id.nullable().optional(),
            expires_at: Timestamp.nullable().optional(),
          })
          .strict()
      ),
    },
    responses: {
      201: json(ApiKeyWithSecretSchema, 'Created; the secret is shown only here'),
      ...errorResponses(...AUTH_ERRORS, 404, 409),
    },
  }),
  async (c) => {
    const ctx = serviceContext(c)
    const { organizationId } = adminPrincipal(c)
    const input = c.req.valid('json')
    const workspace = await getWorkspace(ctx, organizationId, input.workspace_id, 'workspace_id')
    await guard(c, 'manage_workspace_api_keys', { type: 'Workspace', workspace })
    const key = await createApiKey(ctx, organizationId, input)
    return c.json(key, 201)
  }
)

/** Loads the key, then asks whether the caller may do `action` in the key's workspace. */
async function keyWithGuard(
  c: Parameters<typeof guard>[0],
  keyId: string,
  action: 'read_workspace_api_keys' | 'manage_workspace_api_keys'
) {
  const ctx = serviceContext(c)
  const { organizationId } = adminPrincipal(c)
  const key = await getApiKey(ctx, organizationId, keyId)
  const workspace = await getWorkspace(ctx, organizationId, key.workspace_id)
  await guard(c, action, { type: 'Workspace', workspace })
  return { ctx, organizationId, key }
}

apiKeyRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/api-keys/{id}',
    tags,
    summary: 'Get a workspace API key',
    request: { params: IdParam },
    responses: { 200: json(ApiKeySchema, 'The key'), ...errorResponses(...AUTH_ERRORS, 404) },
  }),
  async (c) => {
    const { key } = await keyWithGuard(c, c.req.valid('param').id, 'read_workspace_api_keys')
    return c.json(key, 200)
  }
)

apiKeyRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'delete',
    path: '/v1/api-keys/{id}',
    tags,
    summary: 'Revoke a workspace API key (its secret stops working at once)',
    request: { params: IdParam },
    responses: {
      200: json(ApiKeySchema, 'The revoked key'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { ctx, organizationId, key } = await keyWithGuard(
      c,
      c.req.valid('param').id,
      'manage_workspace_api_keys'
    )
    return c.json(await revokeApiKey(ctx, organizationId, key.id), 200)
  }
)

apiKeyRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'post',
    path: '/v1/api-keys/{id}/rotate',
    tags,
    summary: 'Give the key a new secret (shown only here); the old one stops working',
    request: { params: IdParam, headers: IdempotencyHeader },
    responses: {
      200: json(ApiKeyWithSecretSchema, 'The key with its new secret'),
      ...errorResponses(...AUTH_ERRORS, 404, 409),
    },
  }),
  async (c) => {
    const { ctx, organizationId, key } = await keyWithGuard(
      c,
      c.req.valid('param').id,
      'manage_workspace_api_keys'
    )
    return c.json(await rotateApiKey(ctx, organizationId, key.id), 200)
  }
)
