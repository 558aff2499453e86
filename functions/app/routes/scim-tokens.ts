import { OpenAPIHono, z } from '@hono/zod-openapi'
import { SCIM_TOKENS } from '../../domain/keys.js'
import type { AppEnv } from '../http/env.js'
import { NameSchema, ScimTokenSchema, ScimTokenWithSecretSchema } from '../http/schemas/core.js'
import { secretHolderRoutes } from '../http/secret-holders.js'

/** SCIM tokens: the credentials identity providers use on /scim/v2 (see docs/scim.md). */
export const scimTokenRoutes = new OpenAPIHono<AppEnv>()

secretHolderRoutes(scimTokenRoutes, {
  path: '/v1/scim-tokens',
  tags: ['SCIM tokens'],
  owner: { by: 'admin', read: 'read_scim_tokens', manage: 'manage_scim_tokens' },
  holders: SCIM_TOKENS,
  schemas: {
    record: ScimTokenSchema,
    withSecret: ScimTokenWithSecretSchema,
    create: z.object({ name: NameSchema }).strict(),
  },
  text: {
    list: 'List SCIM tokens',
    listed: 'SCIM tokens',
    create: 'Create a SCIM token for an identity provider (Okta, Microsoft Entra)',
    revoke: 'Revoke a SCIM token (it stops working at once)',
    revoked: 'The revoked token',
  },
})
