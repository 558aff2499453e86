import { OpenAPIHono, z } from '@hono/zod-openapi'
import { createScimToken, listScimTokens, revokeScimToken } from '../../domain/keys.js'
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
} from '../http/openapi.js'
import { ADMIN, ADMIN_CREATE, securedRoute } from '../http/route.js'
import { NameSchema, ScimTokenSchema, ScimTokenWithSecretSchema } from '../http/schemas/core.js'

/** SCIM tokens: the credentials identity providers use on /scim/v2 (see docs/scim.md). */
export const scimTokenRoutes = new OpenAPIHono<AppEnv>()

const tags = ['SCIM tokens']

scimTokenRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/scim-tokens',
    tags,
    summary: 'List SCIM tokens',
    request: { query: PageQuery },
    responses: {
      200: json(listOf(ScimTokenSchema), 'SCIM tokens'),
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_scim_tokens')
    const page = await listScimTokens(
      serviceContext(c),
      organizationId,
      pageRequest(c, c.req.valid('query'))
    )
    return c.json(listBody(c, page), 200)
  }
)

scimTokenRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'post',
    path: '/v1/scim-tokens',
    tags,
    summary: 'Create a SCIM token for an identity provider (Okta, Microsoft Entra)',
    request: {
      headers: IdempotencyHeader,
      body: jsonBody(z.object({ name: NameSchema }).strict()),
    },
    responses: {
      201: json(ScimTokenWithSecretSchema, 'Created; the secret is shown only here'),
      ...errorResponses(...AUTH_ERRORS, 409),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_scim_tokens')
    const token = await createScimToken(serviceContext(c), organizationId, c.req.valid('json').name)
    return c.json(token, 201)
  }
)

scimTokenRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'delete',
    path: '/v1/scim-tokens/{id}',
    tags,
    summary: 'Revoke a SCIM token (it stops working at once)',
    request: { params: IdParam },
    responses: {
      200: json(ScimTokenSchema, 'The revoked token'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_scim_tokens')
    const token = await revokeScimToken(serviceContext(c), organizationId, c.req.valid('param').id)
    return c.json(token, 200)
  }
)
