import { OpenAPIHono } from '@hono/zod-openapi'
import { requestId } from 'hono/request-id'
import { DecisionRecorder } from '../domain/decision-log.js'
import { AppError, invalid } from '../lib/errors.js'
import { illFormedStringPath } from '../lib/unicode.js'
import { StoreDecisionService } from './decisions.js'
import { CacheControlParameter } from './http/admin-reads.js'
import { deriveCursorKey } from './http/cursors.js'
import type { AppDeps, AppEnv } from './http/env.js'
import { errorResponse, handleError, validationError } from './http/errors.js'
import { limitBody } from './http/middleware/body-limit.js'
import { requestContext } from './http/middleware/request-log.js'
import { utf8JsonBody } from './http/middleware/utf8-body.js'
import { documentUnsupportedMediaType } from './http/openapi.js'
import { finishDocument } from './http/openapi-document.js'
import { adminKeyRoutes } from './routes/admin-keys.js'
import { apiKeyRoutes } from './routes/api-keys.js'
import { auditRoutes } from './routes/audit-events.js'
import { authorizeRoutes } from './routes/authorize.js'
import { authorizedRoutes } from './routes/authorized.js'
import { budgetRoutes } from './routes/budgets.js'
import { consoleRoutes } from './routes/console.js'
import { decisionRoutes } from './routes/decisions.js'
import { groupRoutes } from './routes/groups.js'
import { inviteRoutes } from './routes/invites.js'
import { jobRoutes } from './routes/jobs.js'
import { meRoutes } from './routes/me.js'
import { memberRoutes } from './routes/members.js'
import { operatorRoutes } from './routes/operator.js'
import { organizationRoutes } from './routes/organization.js'
import { policyRoutes } from './routes/policies.js'
import { rateLimitRoutes } from './routes/rate-limits.js'
import { scimTokenRoutes } from './routes/scim-tokens.js'
import { seatRoutes } from './routes/seats.js'
import { livenessRoutes, systemRoutes } from './routes/system.js'
import { usageRoutes } from './routes/usage.js'
import { webhookRoutes } from './routes/webhooks.js'
import { workspaceAccessRoutes } from './routes/workspace-access.js'
import { workspaceRoutes } from './routes/workspaces.js'
import { badRequest, scimErrorResponse, toScimProblem } from './scim/errors.js'
import { scimRoutes } from './scim/router.js'

export const MAX_BODY_BYTES = 1024 * 1024

/**
 * The one Hono app, served by the Lambda handler and by the local server alike.
 * Order: request id → dependencies and log → body limit → UTF-8 of JSON bodies → routes (each
 * declares the credentials it admits) → one error handler.
 */
export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) throw validationError(result.error, result.target, c.req.queries())
      // Checked here once for every route and target, not per schema.
      const path = illFormedStringPath(result.data)
      if (path !== undefined) {
        throw invalid(
          `${path ? `'${path}'` : 'The value'} is not valid Unicode: it holds a lone surrogate.`,
          path || result.target
        )
      }
    },
  })

  app.use('*', requestId())
  // Liveness answers before the per-request middleware (dependencies, request log, body checks).
  app.route('/', livenessRoutes(deps.clock))
  const decisions = deps.decisions ?? new StoreDecisionService(deps.db, deps.decisionOptions)
  const cursorKey = deriveCursorKey(deps.operatorKey)
  const decisionLog = new DecisionRecorder(deps.db, decisions, deps.decisionLogOptions)
  app.use('*', requestContext({ ...deps, decisions, cursorKey, decisionLog }))
  app.use(
    '*',
    limitBody(MAX_BODY_BYTES, (c) => {
      const error = new AppError('payload_too_large', 'The request body is larger than 1 MiB.')
      return c.req.path.startsWith('/scim/')
        ? scimErrorResponse(c, toScimProblem(error)!)
        : errorResponse(c, error)
    })
  )

  app.use(
    '*',
    utf8JsonBody((c) => {
      const message = 'The request body is not valid JSON: it is not UTF-8.'
      return c.req.path.startsWith('/scim/')
        ? scimErrorResponse(c, badRequest('invalidSyntax', message))
        : errorResponse(c, invalid(message))
    })
  )

  const routers = [
    systemRoutes,
    operatorRoutes,
    organizationRoutes,
    workspaceRoutes,
    adminKeyRoutes,
    auditRoutes,
    memberRoutes,
    inviteRoutes,
    groupRoutes,
    workspaceAccessRoutes,
    seatRoutes,
    apiKeyRoutes,
    usageRoutes,
    budgetRoutes,
    rateLimitRoutes,
    jobRoutes,
    scimTokenRoutes,
    authorizeRoutes,
    decisionRoutes,
    policyRoutes,
    authorizedRoutes,
    webhookRoutes,
    meRoutes,
    consoleRoutes,
  ]
  for (const router of routers) app.route('/', router)
  // SCIM 2.0 for identity providers: its own auth, media type and error schema (docs/scim.md).
  app.route('/', scimRoutes)

  documentUnsupportedMediaType(app.openAPIRegistry)
  app.openAPIRegistry.registerParameter('CacheControl', CacheControlParameter)
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'op_ operator key, svc_ service key, adm_ admin key or scim_ SCIM token',
  })
  // Generated once (the routes are all registered by now), then completed: operationIds, the
  // errors and headers every operation has (functions/app/http/openapi-document.ts).
  let document: object | undefined
  app.get('/openapi.json', (c) => {
    document ??= finishDocument(
      app.getOpenAPI31Document({
        openapi: '3.1.0',
        info: {
          title: 'Admin engine API',
          version: '1.0.0',
          description: 'Organizations, workspaces, members, keys, policies and usage. See docs/.',
        },
      })
    )
    return c.json(document)
  })

  app.notFound((c) =>
    errorResponse(c, new AppError('not_found', `No route for ${c.req.method} ${c.req.path}.`))
  )
  app.onError(handleError)
  return app
}

export type App = ReturnType<typeof createApp>
