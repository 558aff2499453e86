import { OpenAPIHono } from '@hono/zod-openapi'
import { effectiveRateLimits, getRateLimits, putRateLimits } from '../../usage/rate-limits.js'
import type { AppEnv } from '../http/env.js'
import {
  expectedVersion,
  guard,
  guardWorkspace,
  respondWithVersion,
  serviceContext,
} from '../http/handlers.js'
import {
  AUTH_ERRORS,
  errorResponses,
  IdParam,
  IfMatchHeader,
  json,
  jsonBody,
} from '../http/openapi.js'
import { ADMIN, securedRoute } from '../http/route.js'
import {
  IncludeInheritedQuery,
  RateLimitsInputSchema,
  RateLimitsSchema,
} from '../http/schemas/rate-limits.js'

/** Rate limits of the admin key's organization and its workspaces (docs/rate-limits.md). */
export const rateLimitRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Rate limits']

rateLimitRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/rate-limits',
    tags,
    summary: "The organization's rate limits (defaults counted over all its workspaces)",
    responses: {
      200: json(RateLimitsSchema, 'The limits (an empty list when none is set)'),
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_rate_limits')
    return respondWithVersion(c, await getRateLimits(serviceContext(c), organizationId, null), 200)
  }
)

rateLimitRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'put',
    path: '/v1/rate-limits',
    tags,
    summary: "Replace the organization's rate limits",
    description:
      'A value below a workspace value for the same model (or `*`) → 400. Decisions use the new limits at once.',
    request: { headers: IfMatchHeader, body: jsonBody(RateLimitsInputSchema) },
    responses: {
      200: json(RateLimitsSchema, 'The limits now in force'),
      ...errorResponses(...AUTH_ERRORS, 412),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'update_rate_limits')
    const limits = await putRateLimits(
      serviceContext(c),
      organizationId,
      null,
      c.req.valid('json').limits,
      expectedVersion(c)
    )
    return respondWithVersion(c, limits, 200)
  }
)

rateLimitRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/workspaces/{id}/rate-limits',
    tags,
    summary: "A workspace's own rate limits; with include_inherited=true every value in force",
    request: { params: IdParam, query: IncludeInheritedQuery },
    responses: {
      200: json(RateLimitsSchema, "The workspace's limits"),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { id } = c.req.valid('param')
    const organizationId = await guardWorkspace(c, 'read_rate_limits', id)
    const ctx = serviceContext(c)
    const limits = await getRateLimits(ctx, organizationId, id)
    if (c.req.valid('query').include_inherited !== 'true') return respondWithVersion(c, limits, 200)
    const effective = await effectiveRateLimits(ctx, organizationId, id)
    return respondWithVersion(c, { ...limits, effective }, 200)
  }
)

rateLimitRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'put',
    path: '/v1/workspaces/{id}/rate-limits',
    tags,
    summary: "Replace a workspace's rate limits (each at most the organization's)",
    request: { params: IdParam, headers: IfMatchHeader, body: jsonBody(RateLimitsInputSchema) },
    responses: {
      200: json(RateLimitsSchema, 'The limits now in force'),
      ...errorResponses(...AUTH_ERRORS, 404, 412),
    },
  }),
  async (c) => {
    const { id } = c.req.valid('param')
    const organizationId = await guardWorkspace(c, 'update_rate_limits', id)
    const limits = await putRateLimits(
      serviceContext(c),
      organizationId,
      id,
      c.req.valid('json').limits,
      expectedVersion(c)
    )
    return respondWithVersion(c, limits, 200)
  }
)
