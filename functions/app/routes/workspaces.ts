import { OpenAPIHono, z } from '@hono/zod-openapi'
import {
  archiveWorkspace,
  createWorkspace,
  getWorkspace,
  listWorkspaces,
  unarchiveWorkspace,
  updateWorkspace,
} from '../../domain/workspaces.js'
import { CacheControlHeader, cachedAdminRead } from '../http/admin-reads.js'
import { listBody, pageRequest } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import {
  adminPrincipal,
  expectedVersion,
  guard,
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
import { NameSchema, WorkspaceSchema } from '../http/schemas/core.js'

export const workspaceRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Workspaces']
const Description = z.string().trim().max(2000).nullable()

workspaceRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/workspaces',
    tags,
    summary: 'List workspaces',
    request: {
      query: PageQuery.extend({ status: z.enum(['active', 'archived']).optional() }),
      headers: CacheControlHeader,
    },
    responses: {
      200: json(listOf(WorkspaceSchema), 'Workspaces'),
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_workspace')
    const { status, ...page } = pageRequest(c, c.req.valid('query'))
    const result = await cachedAdminRead(c, organizationId, ['workspaces', page, status], () =>
      listWorkspaces(serviceContext(c), organizationId, page, status)
    )
    return c.json(listBody(c, result), 200)
  }
)

workspaceRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'post',
    path: '/v1/workspaces',
    tags,
    summary: 'Create a workspace',
    request: {
      headers: IdempotencyHeader,
      body: jsonBody(z.object({ name: NameSchema, description: Description.optional() }).strict()),
    },
    responses: { 201: json(WorkspaceSchema, 'Created'), ...errorResponses(...AUTH_ERRORS, 409) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'create_workspace')
    const workspace = await createWorkspace(serviceContext(c), organizationId, c.req.valid('json'))
    return respondWithVersion(c, workspace, 201)
  }
)

workspaceRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/workspaces/{id}',
    tags,
    summary: 'Get a workspace',
    request: { params: IdParam, headers: CacheControlHeader },
    responses: {
      200: json(WorkspaceSchema, 'The workspace'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { organizationId } = adminPrincipal(c)
    const { id } = c.req.valid('param')
    const workspace = await cachedAdminRead(c, organizationId, ['workspace', id], () =>
      getWorkspace(serviceContext(c), organizationId, id)
    )
    await guard(c, 'read_workspace', { type: 'Workspace', workspace })
    return respondWithVersion(c, workspace, 200)
  }
)

workspaceRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'patch',
    path: '/v1/workspaces/{id}',
    tags,
    summary: 'Update a workspace',
    request: {
      params: IdParam,
      headers: IfMatchHeader,
      body: jsonBody(
        z.object({ name: NameSchema.optional(), description: Description.optional() }).strict()
      ),
    },
    responses: {
      200: json(WorkspaceSchema, 'The updated workspace'),
      ...errorResponses(...AUTH_ERRORS, 404, 412),
    },
  }),
  async (c) => {
    const ctx = serviceContext(c)
    const { organizationId } = adminPrincipal(c)
    const id = c.req.valid('param').id
    await guard(c, 'update_workspace', {
      type: 'Workspace',
      workspace: await getWorkspace(ctx, organizationId, id),
    })
    const workspace = await updateWorkspace(
      ctx,
      organizationId,
      id,
      c.req.valid('json'),
      expectedVersion(c)
    )
    return respondWithVersion(c, workspace, 200)
  }
)

for (const [verb, change] of [
  ['archive', archiveWorkspace],
  ['unarchive', unarchiveWorkspace],
] as const) {
  workspaceRoutes.openapi(
    securedRoute(ADMIN, {
      method: 'post',
      path: `/v1/workspaces/{id}/${verb}`,
      tags,
      summary:
        verb === 'archive'
          ? 'Archive a workspace (nothing is allowed in it until unarchived); not the default one'
          : 'Unarchive a workspace',
      request: { params: IdParam },
      responses: {
        200: json(WorkspaceSchema, 'The workspace'),
        ...errorResponses(...AUTH_ERRORS, 404, 409),
      },
    }),
    async (c) => {
      const ctx = serviceContext(c)
      const { organizationId } = adminPrincipal(c)
      const id = c.req.valid('param').id
      await guard(c, 'archive_workspace', {
        type: 'Workspace',
        workspace: await getWorkspace(ctx, organizationId, id),
      })
      const workspace = await change(ctx, organizationId, id)
      return respondWithVersion(c, workspace, 200)
    }
  )
}
