import { OpenAPIHono, z } from '@hono/zod-openapi'
import { effectiveAccess } from '../../domain/access.js'
import {
  createMember,
  getMember,
  listMembers,
  removeMember,
  updateMember,
} from '../../domain/members.js'
import { CacheControlHeader, cachedAdminRead } from '../http/admin-reads.js'
import { listBody, pageRequest } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import { expectedVersion, guard, respondWithVersion, serviceContext } from '../http/handlers.js'
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
  deletedSchema,
  EffectiveAccessSchema,
  EmailSchema,
  MemberSchema,
  MemberStatusSchema,
  WorkspaceRolesListSchema,
} from '../http/schemas/access.js'
import { NameSchema, OrgRoleSchema } from '../http/schemas/core.js'

export const memberRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Members']

memberRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/members',
    tags,
    summary: 'List members (filter by email, any case, and status)',
    request: {
      query: PageQuery.extend({
        email: z.string().min(1).max(320).optional(),
        status: MemberStatusSchema.optional(),
      }),
      headers: CacheControlHeader,
    },
    responses: { 200: json(listOf(MemberSchema), 'Members'), ...errorResponses(...AUTH_ERRORS) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_members')
    const { email, status, ...page } = pageRequest(c, c.req.valid('query'))
    const result = await cachedAdminRead(c, organizationId, ['members', page, email, status], () =>
      listMembers(serviceContext(c), organizationId, page, { email, status })
    )
    return c.json(listBody(c, result), 200)
  }
)

memberRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'post',
    path: '/v1/members',
    tags,
    summary: 'Add a member (always in the default workspace)',
    request: {
      headers: IdempotencyHeader,
      body: jsonBody(
        z
          .object({
            email: EmailSchema,
            name: NameSchema,
            org_role: OrgRoleSchema.optional(),
            workspaces: WorkspaceRolesListSchema.optional(),
          })
          .strict()
      ),
    },
    responses: {
      201: json(MemberSchema, 'Created'),
      ...errorResponses(...AUTH_ERRORS, 404, 409),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_members')
    const member = await createMember(serviceContext(c), organizationId, c.req.valid('json'))
    return respondWithVersion(c, member, 201)
  }
)

memberRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/members/{id}',
    tags,
    summary: 'Get a member',
    request: { params: IdParam, headers: CacheControlHeader },
    responses: { 200: json(MemberSchema, 'The member'), ...errorResponses(...AUTH_ERRORS, 404) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_members')
    const { id } = c.req.valid('param')
    const member = await cachedAdminRead(c, organizationId, ['member', id], () =>
      getMember(serviceContext(c), organizationId, id)
    )
    return respondWithVersion(c, member, 200)
  }
)

memberRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'patch',
    path: '/v1/members/{id}',
    tags,
    summary: 'Update a member (name, org role, status); never the last organization_admin away',
    request: {
      params: IdParam,
      headers: IfMatchHeader,
      body: jsonBody(
        z
          .object({
            name: NameSchema.optional(),
            org_role: OrgRoleSchema.optional(),
            status: MemberStatusSchema.optional(),
          })
          .strict()
      ),
    },
    responses: {
      200: json(MemberSchema, 'The updated member'),
      ...errorResponses(...AUTH_ERRORS, 404, 409, 412),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_members')
    const member = await updateMember(
      serviceContext(c),
      organizationId,
      c.req.valid('param').id,
      c.req.valid('json'),
      expectedVersion(c)
    )
    return respondWithVersion(c, member, 200)
  }
)

memberRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'delete',
    path: '/v1/members/{id}',
    tags,
    summary:
      'Remove a member with their group memberships, grants, seats and API keys (a failed removal is completed by retrying)',
    request: { params: IdParam, headers: IfMatchHeader },
    responses: {
      200: json(deletedSchema('member.deleted'), 'Removed'),
      ...errorResponses(...AUTH_ERRORS, 404, 409, 412),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_members')
    const result = await removeMember(
      serviceContext(c),
      organizationId,
      c.req.valid('param').id,
      expectedVersion(c)
    )
    return c.json(result, 200)
  }
)

memberRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/members/{id}/effective-access',
    tags,
    summary:
      "A member's org and workspace roles with where each comes from (direct, or via which groups)",
    request: { params: IdParam },
    responses: {
      200: json(EffectiveAccessSchema, 'Effective access'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_workspace_access')
    const access = await effectiveAccess(serviceContext(c), organizationId, c.req.valid('param').id)
    return c.json(access, 200)
  }
)
