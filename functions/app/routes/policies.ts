import { OpenAPIHono, z } from '@hono/zod-openapi'
import {
  checkPolicy,
  deletePolicy,
  getPolicy,
  listPolicies,
  policySchema,
  putPolicy,
} from '../../domain/policies.js'
import { simulatePolicies } from '../../domain/simulation.js'
import { listBody, pageRequest } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import {
  expectedVersion,
  guard,
  ifMatchPrecondition,
  respondWithVersion,
  serviceContext,
} from '../http/handlers.js'
import {
  AUTH_ERRORS,
  errorResponses,
  IdempotencyHeader,
  IdParam,
  IfMatchHeader,
  json,
  jsonBody,
  listOf,
  PageQuery,
} from '../http/openapi.js'
import { ADMIN, ADMIN_CREATE, securedRoute } from '../http/route.js'
import {
  PolicyErrorSchema,
  PolicyInputSchema,
  PolicySchema,
  PolicyValidationSchema,
} from '../http/schemas/authz.js'
import { SimulationReportSchema } from '../http/schemas/decisions.js'

/** The built-in policies and the organization's custom ones (Cedar, product actions only). */
export const policyRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Policies']
const invalidPolicy = {
  400: json(PolicyErrorSchema, "Invalid: Cedar's diagnostics, each with line and column"),
}

policyRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/policies',
    tags,
    summary: "Built-in policies, then the organization's own",
    request: {
      query: PageQuery.extend({
        source: z
          .enum(['builtin', 'custom'])
          .optional()
          .openapi({ description: 'Only the built-in policies, or only the custom ones' }),
      }),
    },
    responses: { 200: json(listOf(PolicySchema), 'Policies'), ...errorResponses(...AUTH_ERRORS) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_policies')
    const query = c.req.valid('query')
    const page = await listPolicies(serviceContext(c), organizationId, pageRequest(c, query), {
      source: query.source,
    })
    return c.json(listBody(c, page), 200)
  }
)

policyRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/policies/schema',
    tags,
    summary: 'The Cedar schema policies are validated against (Cedar text and JSON)',
    responses: {
      200: json(
        z.object({ object: z.literal('policy_schema'), cedar: z.string(), json: z.unknown() }),
        'The schema'
      ),
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    await guard(c, 'read_policies')
    return c.json(policySchema(), 200)
  }
)

policyRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'post',
    path: '/v1/policies/validate',
    tags,
    summary: 'Check a custom policy without storing it (the same checks as PUT)',
    request: {
      body: jsonBody(
        PolicyInputSchema.extend({
          id: z.string().min(1).max(64).optional().openapi({
            description: 'The id it would be stored under (default: its @id annotation)',
          }),
        })
      ),
    },
    responses: {
      200: json(PolicyValidationSchema, 'Valid'),
      ...invalidPolicy,
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    await guard(c, 'read_policies')
    const { id, ...input } = c.req.valid('json')
    const { policy, warnings } = checkPolicy(id, input)
    return c.json(
      {
        object: 'policy_validation' as const,
        valid: true as const,
        id: policy.id,
        effect: policy.effect,
        description: policy.description,
        warnings,
      },
      200
    )
  }
)

policyRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/policies/{id}',
    tags,
    summary: 'Get a built-in or custom policy',
    request: { params: IdParam },
    responses: { 200: json(PolicySchema, 'The policy'), ...errorResponses(...AUTH_ERRORS, 404) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_policies')
    const policy = await getPolicy(serviceContext(c), organizationId, c.req.valid('param').id)
    return respondWithVersion(c, policy, 200)
  }
)

policyRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'put',
    path: '/v1/policies/{id}',
    tags,
    summary: 'Create or replace a custom policy; it takes effect on the next decision',
    description:
      'Validated strictly against the schema; it may only govern product actions. A `forbid` restricts what the built-in policies allow; guardrails cannot be overridden by a `permit`. Ids: 1–64 of a-z, 0-9, "-".',
    request: {
      params: IdParam,
      headers: IfMatchHeader.merge(IdempotencyHeader),
      query: z.object({
        simulate: z.enum(['true', 'false']).optional().openapi({
          description:
            'true: save nothing; answer with the report of POST /v1/policies/simulate for this one change',
        }),
      }),
      body: jsonBody(PolicyInputSchema),
    },
    responses: {
      200: json(
        z.union([PolicySchema, SimulationReportSchema]),
        'Replaced (or unchanged); with simulate=true the simulation report'
      ),
      201: json(PolicySchema, 'Created'),
      ...invalidPolicy,
      ...errorResponses(401, 403, 409, 412),
    },
  }),
  async (c) => {
    if (c.req.valid('query').simulate === 'true') {
      const { organizationId } = await guard(c, 'simulate_policies')
      const { db, clock, decisions, decisionLog } = c.get('deps')
      await decisionLog.flush()
      const change = { id: c.req.valid('param').id, ...c.req.valid('json') }
      return c.json(
        await simulatePolicies(db, decisions, organizationId, { changes: [change] }, clock.now()),
        200
      )
    }
    const { organizationId } = await guard(c, 'manage_policies')
    const { policy, created } = await putPolicy(
      serviceContext(c),
      organizationId,
      c.req.valid('param').id,
      c.req.valid('json'),
      // A PUT can create: If-Match * then requires the policy to exist already.
      ifMatchPrecondition(c)
    )
    return respondWithVersion(c, policy, created ? 201 : 200)
  }
)

policyRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'delete',
    path: '/v1/policies/{id}',
    tags,
    summary: 'Delete a custom policy; it stops applying on the next decision',
    request: { params: IdParam, headers: IfMatchHeader },
    responses: {
      200: json(
        z.object({ object: z.literal('policy.deleted'), id: z.string(), deleted: z.literal(true) }),
        'Deleted'
      ),
      ...errorResponses(...AUTH_ERRORS, 404, 409, 412),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_policies')
    const result = await deletePolicy(
      serviceContext(c),
      organizationId,
      c.req.valid('param').id,
      expectedVersion(c)
    )
    return c.json(result, 200)
  }
)
