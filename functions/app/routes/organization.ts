import { OpenAPIHono, z } from '@hono/zod-openapi'
import { getOrganization, updateOrganization } from '../../domain/organizations.js'
import { listRoles } from '../../domain/roles.js'
import { CacheControlHeader, cachedAdminRead } from '../http/admin-reads.js'
import type { AppEnv } from '../http/env.js'
import { expectedVersion, guard, respondWithVersion, serviceContext } from '../http/handlers.js'
import {
  AUTH_ERRORS,
  errorResponses,
  IfMatchHeader,
  json,
  jsonBody,
  listOf,
} from '../http/openapi.js'
import { ADMIN, securedRoute } from '../http/route.js'
import { NameSchema, OrganizationSchema, RoleSchema } from '../http/schemas/core.js'

/** The calling admin key's own organization, and the role catalogue. */
export const organizationRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Organization']

organizationRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/organization',
    tags,
    summary: "Get the admin key's organization",
    request: { headers: CacheControlHeader },
    responses: {
      200: json(OrganizationSchema, 'The organization'),
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_organization')
    const organization = await cachedAdminRead(c, organizationId, ['organization'], () =>
      getOrganization(serviceContext(c), organizationId)
    )
    return respondWithVersion(c, organization, 200)
  }
)

const OrganizationPatch = z
  .object({
    name: NameSchema.optional(),
    settings: z
      .object({
        api_key_max_validity_days: z
          .number()
          .int()
          .min(1)
          .max(3650)
          .nullable()
          .optional()
          .openapi({ description: 'Longest validity of a workspace API key; null = unlimited' }),
        decision_log_sample_rate: z.number().min(0).max(1).optional().openapi({
          description:
            'Share of allowed decisions the decision log keeps, 0..1 (default 1); denies are always kept',
        }),
      })
      .strict()
      .optional(),
  })
  .strict()

organizationRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'patch',
    path: '/v1/organization',
    tags,
    summary: 'Update the organization (name, settings)',
    request: { headers: IfMatchHeader, body: jsonBody(OrganizationPatch) },
    responses: {
      200: json(OrganizationSchema, 'The updated organization'),
      ...errorResponses(...AUTH_ERRORS, 412),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'update_organization')
    const organization = await updateOrganization(
      serviceContext(c),
      organizationId,
      c.req.valid('json'),
      expectedVersion(c)
    )
    return respondWithVersion(c, organization, 200)
  }
)

organizationRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/roles',
    tags,
    summary: 'Every role with the actions it allows',
    responses: { 200: json(listOf(RoleSchema), 'Roles'), ...errorResponses(...AUTH_ERRORS) },
  }),
  async (c) => {
    await guard(c, 'read_roles')
    const data = listRoles()
    return c.json({ object: 'list' as const, data, has_more: false, next_cursor: null }, 200)
  }
)
