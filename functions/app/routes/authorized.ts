import { OpenAPIHono } from '@hono/zod-openapi'
import { authorizedPrincipals, authorizedWorkspaces } from '../../domain/authorized.js'
import { getWorkspace } from '../../domain/workspaces.js'
import { listBody, openCursor } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import { adminPrincipal, guard, serviceContext } from '../http/handlers.js'
import { AUTH_ERRORS, errorResponses, IdParam, json, listOf, PageQuery } from '../http/openapi.js'
import { ADMIN, securedRoute } from '../http/route.js'
import {
  ActionQuery,
  AuthorizedPrincipalSchema,
  AuthorizedWorkspaceSchema,
} from '../http/schemas/decisions.js'

/**
 * Reverse queries: who may do an action in a workspace, where a member may do it. Each
 * candidate is decided by the same path as `/v1/authorize`; a page may hold fewer rows than
 * `limit` and still have more (a bounded amount of work per page), never a silent cut-off.
 */
export const authorizedRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Decisions']
const completeness =
  'Complete: every member and API key (or workspace) is decided, with an empty context, by the same policies as POST /v1/authorize (custom policies and guardrails included). A page decides at most 500 candidates, so it may hold fewer rows than `limit` while `has_more` is true: follow `next_cursor` until it is null.'

authorizedRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/workspaces/{id}/authorized-principals',
    tags,
    summary: 'Members and API keys allowed an action in the workspace',
    description: completeness,
    request: { params: IdParam, query: PageQuery.extend(ActionQuery.shape) },
    responses: {
      200: json(listOf(AuthorizedPrincipalSchema), 'Allowed principals, members first, by id'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const ctx = serviceContext(c)
    const { organizationId } = adminPrincipal(c)
    const workspace = await getWorkspace(ctx, organizationId, c.req.valid('param').id)
    await guard(c, 'read_workspace_access', { type: 'Workspace', workspace })
    const query = c.req.valid('query')
    const { db, decisions, clock } = c.get('deps')
    const page = await authorizedPrincipals(
      db,
      decisions,
      organizationId,
      workspace.id,
      query.action,
      { limit: query.limit, after: openCursor(c) },
      clock.now()
    )
    return c.json(listBody(c, page), 200)
  }
)

authorizedRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/members/{id}/authorized-workspaces',
    tags,
    summary: 'Workspaces where the member is allowed an action',
    description: completeness,
    request: { params: IdParam, query: PageQuery.extend(ActionQuery.shape) },
    responses: {
      200: json(listOf(AuthorizedWorkspaceSchema), 'Workspaces, by id'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_workspace_access')
    const query = c.req.valid('query')
    const { db, decisions, clock } = c.get('deps')
    const page = await authorizedWorkspaces(
      db,
      decisions,
      organizationId,
      c.req.valid('param').id,
      query.action,
      { limit: query.limit, after: openCursor(c) },
      clock.now()
    )
    return c.json(listBody(c, page), 200)
  }
)
