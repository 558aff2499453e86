import { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { Decision } from '../../authz/engine.js'
import { introspectApiKey } from '../../domain/api-keys.js'
import { notFound } from '../../lib/errors.js'
import type { AppEnv } from '../http/env.js'
import { validationError } from '../http/errors.js'
import { guard } from '../http/handlers.js'
import { AUTH_ERRORS, errorResponses, json, jsonBody } from '../http/openapi.js'
import { securedRoute } from '../http/route.js'
import {
  AuthorizationItemSchema,
  AuthorizationRequestSchema,
  BatchAuthorizationRequestSchema,
  BatchDecisionSchema,
  DecisionSchema,
  IntrospectionRequestSchema,
  IntrospectionSchema,
} from '../http/schemas/authz.js'
import { recordDecisions, recordedRequest } from './decisions.js'

/** Product decisions (`/v1/authorize*`) and API key introspection, for products. */
export const authorizeRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Decisions']

/**
 * Which organizations a caller may ask about: a service key any, an admin key its own (with
 * the `request_decisions` permission). Another organization's is a 404; so is one that does
 * not exist, which the decision's own facts tell (`unknownOrganization`).
 */
async function requireCallerMayAsk(c: Context<AppEnv>, organizationId: string): Promise<void> {
  const principal = c.get('principal')
  if (principal.kind === 'admin') {
    if (principal.organizationId !== organizationId) throw unknownOrganization(organizationId)
    await guard(c, 'request_decisions')
  }
}

const unknownOrganization = (organizationId: string) =>
  notFound('organization', organizationId, 'organization_id')

authorizeRoutes.openapi(
  securedRoute(
    { credentials: ['service', 'admin'] },
    {
      method: 'post',
      path: '/v1/authorize',
      tags,
      summary: 'May this principal do this product action in this workspace?',
      description:
        "A Cedar decision over the organization's built-in and custom policies. An unknown principal or workspace is a deny with the reason in `errors`; a guardrail deny names its policy in `determining_policies`.",
      request: { body: jsonBody(AuthorizationRequestSchema) },
      responses: {
        200: json(DecisionSchema, 'The decision'),
        ...errorResponses(...AUTH_ERRORS, 404),
      },
    }
  ),
  async (c) => {
    const { organization_id, ...request } = c.req.valid('json')
    await requireCallerMayAsk(c, organization_id)
    const { decisions, clock } = c.get('deps')
    const decision = await decisions.authorizeIfKnown(organization_id, request, clock.now())
    if (!decision) throw unknownOrganization(organization_id)
    const [decision_id] = await recordDecisions(c, organization_id, [
      { request: recordedRequest(request), result: decision },
    ])
    return c.json({ ...decision, decision_id: decision_id! }, 200)
  }
)

authorizeRoutes.openapi(
  securedRoute(
    { credentials: ['service', 'admin'] },
    {
      method: 'post',
      path: '/v1/authorize/batch',
      tags,
      summary: 'Up to 100 decisions in one organization; results in order',
      description:
        'Each request is checked on its own: a malformed one gets a deny with its problem in its own result, and the others are decided.',
      request: { body: jsonBody(BatchAuthorizationRequestSchema) },
      responses: {
        200: json(BatchDecisionSchema, 'One decision per request, in order'),
        ...errorResponses(...AUTH_ERRORS, 404),
      },
    }
  ),
  async (c) => {
    const { organization_id, requests } = c.req.valid('json')
    await requireCallerMayAsk(c, organization_id)
    const parsed = requests.map((item) => AuthorizationItemSchema.safeParse(item))
    const valid = parsed.flatMap((result) => (result.success ? [result.data] : []))
    const { decisions, clock } = c.get('deps')
    const decided = await decisions.authorizeManyIfKnown(organization_id, valid, clock.now())
    if (!decided) throw unknownOrganization(organization_id)
    let next = 0
    const decidedAll: Decision[] = parsed.map((result) => {
      if (result.success) return decided[next++]!
      const error = validationError(result.error, 'json')
      return {
        decision: 'deny',
        determining_policies: [],
        errors: [{ code: 'invalid_request', message: error.message }],
      }
    })
    const ids = await recordDecisions(
      c,
      organization_id,
      decidedAll.map((result, i) => ({ request: recordedRequest(requests[i]), result }))
    )
    const results = decidedAll.map((result, i) => ({ ...result, decision_id: ids[i]! }))
    return c.json({ results }, 200)
  }
)

authorizeRoutes.openapi(
  securedRoute(
    { credentials: ['service'] },
    {
      method: 'post',
      path: '/v1/api-keys/introspect',
      tags,
      summary: 'What a workspace API key secret is (service keys)',
      description:
        "`active: false` for an unknown, revoked or expired key. Records the key's `last_used_at` (to the minute).",
      request: { body: jsonBody(IntrospectionRequestSchema) },
      responses: {
        200: json(IntrospectionSchema, 'The key, or active: false'),
        ...errorResponses(...AUTH_ERRORS),
      },
    }
  ),
  async (c) => {
    const { db, clock } = c.get('deps')
    return c.json(await introspectApiKey({ db, clock }, c.req.valid('json').secret), 200)
  }
)
