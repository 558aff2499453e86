import { OpenAPIHono, z } from '@hono/zod-openapi'
import {
  addGroupMember,
  addSubgroup,
  createGroup,
  deleteGroup,
  getGroup,
  listGroupMembers,
  listGroups,
  removeGroupMember,
  removeSubgroup,
  updateGroup,
} from '../../domain/groups.js'
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
  GroupMembershipSchema,
  GroupSchema,
  MemberSchema,
} from '../http/schemas/access.js'
import { NameSchema, OrgRoleSchema } from '../http/schemas/core.js'

export const groupRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Groups']
const Id = z.string().min(1).max(100)
const MemberParams = z.object({ id: Id, member_id: Id })
const SubgroupParams = z.object({ id: Id, group_id: Id })

groupRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/groups',
    tags,
    summary: 'List groups',
    request: { query: PageQuery, headers: CacheControlHeader },
    responses: { 200: json(listOf(GroupSchema), 'Groups'), ...errorResponses(...AUTH_ERRORS) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_groups')
    const request = pageRequest(c, c.req.valid('query'))
    const page = await cachedAdminRead(c, organizationId, ['groups', request], () =>
      listGroups(serviceContext(c), organizationId, request)
    )
    return c.json(listBody(c, page), 200)
  }
)

groupRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'post',
    path: '/v1/groups',
    tags,
    summary: 'Create a group (names are unique per organization, any case)',
    request: {
      headers: IdempotencyHeader,
      body: jsonBody(
        z.object({ name: NameSchema, org_role: OrgRoleSchema.nullable().optional() }).strict()
      ),
    },
    responses: { 201: json(GroupSchema, 'Created'), ...errorResponses(...AUTH_ERRORS, 409) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_groups')
    const group = await createGroup(serviceContext(c), organizationId, c.req.valid('json'))
    return respondWithVersion(c, group, 201)
  }
)

groupRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/groups/{id}',
    tags,
    summary: 'Get a group with its parent groups and subgroups',
    request: { params: IdParam, headers: CacheControlHeader },
    responses: { 200: json(GroupSchema, 'The group'), ...errorResponses(...AUTH_ERRORS, 404) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_groups')
    const { id } = c.req.valid('param')
    const group = await cachedAdminRead(c, organizationId, ['group', id], () =>
      getGroup(serviceContext(c), organizationId, id)
    )
    return respondWithVersion(c, group, 200)
  }
)

groupRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'patch',
    path: '/v1/groups/{id}',
    tags,
    summary: 'Rename a group or change the org role it carries',
    request: {
      params: IdParam,
      headers: IfMatchHeader,
      body: jsonBody(
        z
          .object({ name: NameSchema.optional(), org_role: OrgRoleSchema.nullable().optional() })
          .strict()
      ),
    },
    responses: {
      200: json(GroupSchema, 'The updated group'),
      ...errorResponses(...AUTH_ERRORS, 404, 409, 412),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_groups')
    const group = await updateGroup(
      serviceContext(c),
      organizationId,
      c.req.valid('param').id,
      c.req.valid('json'),
      expectedVersion(c)
    )
    return respondWithVersion(c, group, 200)
  }
)

groupRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'delete',
    path: '/v1/groups/{id}',
    tags,
    summary: 'Delete a group with its memberships, nesting and grants',
    request: { params: IdParam, headers: IfMatchHeader },
    responses: {
      200: json(deletedSchema('group.deleted'), 'Deleted'),
      ...errorResponses(...AUTH_ERRORS, 404, 412),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_groups')
    const result = await deleteGroup(
      serviceContext(c),
      organizationId,
      c.req.valid('param').id,
      expectedVersion(c)
    )
    return c.json(result, 200)
  }
)

groupRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/groups/{id}/members',
    tags,
    summary: "The group's direct members",
    request: { params: IdParam, query: PageQuery, headers: CacheControlHeader },
    responses: {
      200: json(listOf(MemberSchema), 'Members'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_groups')
    const { id } = c.req.valid('param')
    const request = pageRequest(c, c.req.valid('query'))
    const page = await cachedAdminRead(c, organizationId, ['group-members', id, request], () =>
      listGroupMembers(serviceContext(c), organizationId, id, request)
    )
    return c.json(listBody(c, page), 200)
  }
)

groupRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'put',
    path: '/v1/groups/{id}/members/{member_id}',
    tags,
    summary: 'Add a member to the group (201 when added now, 200 when already in it)',
    request: { params: MemberParams, headers: IdempotencyHeader },
    responses: {
      200: json(GroupMembershipSchema, 'Already a member'),
      201: json(GroupMembershipSchema, 'Added'),
      ...errorResponses(...AUTH_ERRORS, 404, 409),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_groups')
    const { id, member_id } = c.req.valid('param')
    const { membership, created } = await addGroupMember(
      serviceContext(c),
      organizationId,
      id,
      member_id
    )
    return created ? c.json(membership, 201) : c.json(membership, 200)
  }
)

groupRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'delete',
    path: '/v1/groups/{id}/members/{member_id}',
    tags,
    summary: 'Remove a member from the group',
    request: { params: MemberParams },
    responses: {
      200: json(
        z.object({
          object: z.literal('group_membership.deleted'),
          group_id: z.string(),
          member_id: z.string(),
          deleted: z.literal(true),
        }),
        'Removed'
      ),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_groups')
    const { id, member_id } = c.req.valid('param')
    await removeGroupMember(serviceContext(c), organizationId, id, member_id)
    return c.json(
      {
        object: 'group_membership.deleted' as const,
        group_id: id,
        member_id,
        deleted: true as const,
      },
      200
    )
  }
)

groupRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'put',
    path: '/v1/groups/{id}/subgroups/{group_id}',
    tags,
    summary: 'Nest a group inside this one (its members become members here); a cycle → 409',
    request: { params: SubgroupParams, headers: IdempotencyHeader },
    responses: {
      200: json(GroupSchema, 'The containing group'),
      ...errorResponses(...AUTH_ERRORS, 404, 409),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_groups')
    const { id, group_id } = c.req.valid('param')
    const group = await addSubgroup(serviceContext(c), organizationId, id, group_id)
    return respondWithVersion(c, group, 200)
  }
)

groupRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'delete',
    path: '/v1/groups/{id}/subgroups/{group_id}',
    tags,
    summary: 'Un-nest a subgroup',
    request: { params: SubgroupParams },
    responses: {
      200: json(GroupSchema, 'The containing group'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_groups')
    const { id, group_id } = c.req.valid('param')
    const group = await removeSubgroup(serviceContext(c), organizationId, id, group_id)
    return respondWithVersion(c, group, 200)
  }
)
