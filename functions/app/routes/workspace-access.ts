import { OpenAPIHono, z } from '@hono/zod-openapi'
import { listWorkspaceAccess, putGrant, removeGrant } from '../../domain/access.js'
import { getWorkspace } from '../../domain/workspaces.js'
import type { PrincipalRef } from '../../store/grants.js'
import { CacheControlHeader, cachedAdminRead } from '../http/admin-reads.js'
import { listBody, pageRequest } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import {
  adminPrincipal,
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
import { PrincipalSchema, RolesSchema, WorkspaceGrantSchema } from '../http/schemas/access.js'

export const workspaceAccessRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Workspace access']
const Id = z.string().min(1).max(100)

workspaceAccessRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/workspaces/{id}/access',
    tags,
    summary: "The workspace's grants: roles per member and per group",
    request: { params: IdParam, query: PageQuery, headers: CacheControlHeader },
    responses: {
      200: json(listOf(WorkspaceGrantSchema), 'Grants'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { organizationId } = adminPrincipal(c)
    const { id } = c.req.valid('param')
    const workspace = await cachedAdminRead(c, organizationId, ['workspace', id], () =>
      getWorkspace(serviceContext(c), organizationId, id)
    )
    await guard(c, 'read_workspace_access', { type: 'Workspace', workspace })
    const request = pageRequest(c, c.req.valid('query'))
    const page = await cachedAdminRead(c, organizationId, ['workspace-access', id, request], () =>
      listWorkspaceAccess(serviceContext(c), organizationId, workspace.id, request)
    )
    return c.json(listBody(c, page), 200)
  }
)

/** PUT and DELETE of one principal type's grants: `/access/members/{member_id}` or `/access/groups/{group_id}`. */
function grantRoutes<P extends 'member_id' | 'group_id'>(
  type: 'member' | 'group',
  param: P,
  Params: z.ZodObject<{ id: typeof Id } & Record<P, typeof Id>>
) {
  const principalOf = (params: { id: string } & Record<P, string>): PrincipalRef => ({
    type,
    id: params[param],
  })

  workspaceAccessRoutes.openapi(
    securedRoute(ADMIN_CREATE, {
      method: 'put',
      path: `/v1/workspaces/{id}/access/${type}s/{${param}}`,
      tags,
      summary: `Grant or change the workspace roles of a ${type} (201 when new)`,
      request: {
        params: Params,
        headers: IfMatchHeader.merge(IdempotencyHeader),
        body: jsonBody(z.object({ roles: RolesSchema }).strict()),
      },
      responses: {
        200: json(WorkspaceGrantSchema, 'Changed (or unchanged)'),
        201: json(WorkspaceGrantSchema, 'Granted'),
        ...errorResponses(...AUTH_ERRORS, 404, 412),
      },
    }),
    async (c) => {
      const ctx = serviceContext(c)
      const { organizationId } = adminPrincipal(c)
      const params = c.req.valid('param') as { id: string } & Record<P, string>
      const workspace = await getWorkspace(ctx, organizationId, params.id)
      await guard(c, 'manage_workspace_access', { type: 'Workspace', workspace })
      const { grant, created } = await putGrant(
        ctx,
        organizationId,
        workspace.id,
        principalOf(params),
        c.req.valid('json').roles,
        // A PUT can create: If-Match * then requires the grant to exist already.
        ifMatchPrecondition(c)
      )
      return respondWithVersion(c, grant, created ? 201 : 200)
    }
  )

  workspaceAccessRoutes.openapi(
    securedRoute(ADMIN, {
      method: 'delete',
      path: `/v1/workspaces/{id}/access/${type}s/{${param}}`,
      tags,
      summary:
        type === 'member'
          ? "Remove a member's grant (not in the default workspace: every member is there)"
          : "Remove a group's grant",
      request: { params: Params, headers: IfMatchHeader },
      responses: {
        200: json(
          z.object({
            object: z.literal('workspace_grant.deleted'),
            workspace_id: z.string(),
            principal: PrincipalSchema,
            deleted: z.literal(true),
          }),
          'Removed'
        ),
        ...errorResponses(...AUTH_ERRORS, 404, 409, 412),
      },
    }),
    async (c) => {
      const ctx = serviceContext(c)
      const { organizationId } = adminPrincipal(c)
      const params = c.req.valid('param') as { id: string } & Record<P, string>
      const workspace = await getWorkspace(ctx, organizationId, params.id)
      await guard(c, 'manage_workspace_access', { type: 'Workspace', workspace })
      const principal = principalOf(params)
      await removeGrant(ctx, organizationId, workspace.id, principal, expectedVersion(c))
      return c.json(
        {
          object: 'workspace_grant.deleted' as const,
          workspace_id: workspace.id,
          principal,
          deleted: true as const,
        },
        200
      )
    }
  )
}

grantRoutes('member', 'member_id', z.object({ id: Id, member_id: Id }))
grantRoutes('group', 'group_id', z.object({ id: Id, group_id: Id }))
