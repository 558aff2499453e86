import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import {
  acceptInvite,
  createInvite,
  getInvite,
  listInvites,
  revokeInvite,
} from '../../domain/invites.js'
import { INVITE_STATUSES } from '../../model/index.js'
import { listBody, pageRequest } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import { guard, respondWithVersion, serviceContext } from '../http/handlers.js'
import {
  AUTH_ERRORS,
  errorResponses,
  IdempotencyHeader,
  IdParam,
  json,
  jsonBody,
  listOf,
  PageQuery,
} from '../http/openapi.js'
import { strictQuery } from '../http/query.js'
import { ADMIN, ADMIN_CREATE, securedRoute } from '../http/route.js'
import {
  EmailSchema,
  InviteSchema,
  InviteWithTokenSchema,
  MemberSchema,
  WorkspaceRolesListSchema,
} from '../http/schemas/access.js'
import { NameSchema, OrgRoleSchema } from '../http/schemas/core.js'

export const inviteRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Invites']

inviteRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/invites',
    tags,
    summary: 'List invites, newest first',
    request: { query: PageQuery.extend({ status: z.enum(INVITE_STATUSES).optional() }) },
    responses: { 200: json(listOf(InviteSchema), 'Invites'), ...errorResponses(...AUTH_ERRORS) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_invites')
    const { status, ...page } = pageRequest(c, c.req.valid('query'))
    const result = await listInvites(serviceContext(c), organizationId, page, status)
    return c.json(listBody(c, result), 200)
  }
)

inviteRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'post',
    path: '/v1/invites',
    tags,
    summary: 'Invite someone by email; the one-time token is shown only here',
    request: {
      headers: IdempotencyHeader,
      body: jsonBody(
        z
          .object({
            email: EmailSchema,
            org_role: OrgRoleSchema.optional(),
            workspaces: WorkspaceRolesListSchema.optional(),
            expires_in_days: z.number().int().min(1).max(30).optional().openapi({
              description: '1..30, default 21',
            }),
          })
          .strict()
      ),
    },
    responses: {
      201: json(InviteWithTokenSchema, 'Created'),
      ...errorResponses(...AUTH_ERRORS, 404, 409),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_invites')
    const invite = await createInvite(serviceContext(c), organizationId, c.req.valid('json'))
    return c.json(invite, 201)
  }
)

inviteRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/v1/invites/accept',
    tags,
    summary:
      'Accept an invite with its token (no other credential): creates the member with the invited roles',
    middleware: strictQuery(undefined, 'POST /v1/invites/accept'),
    request: {
      body: jsonBody(z.object({ token: z.string().min(1).max(200), name: NameSchema }).strict()),
    },
    responses: {
      201: json(MemberSchema, 'The new member'),
      ...errorResponses(400, 404, 409),
    },
  }),
  async (c) => {
    const { db, clock } = c.get('deps')
    const { token, name } = c.req.valid('json')
    const member = await acceptInvite({ db, clock, requestId: c.get('requestId') }, token, name)
    return respondWithVersion(c, member, 201)
  }
)

inviteRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/invites/{id}',
    tags,
    summary: 'Get an invite',
    request: { params: IdParam },
    responses: { 200: json(InviteSchema, 'The invite'), ...errorResponses(...AUTH_ERRORS, 404) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_invites')
    const invite = await getInvite(serviceContext(c), organizationId, c.req.valid('param').id)
    return c.json(invite, 200)
  }
)

inviteRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'delete',
    path: '/v1/invites/{id}',
    tags,
    summary: 'Revoke an invite (its token stops working); an accepted one → 409',
    request: { params: IdParam },
    responses: {
      200: json(InviteSchema, 'The revoked invite'),
      ...errorResponses(...AUTH_ERRORS, 404, 409),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_invites')
    const invite = await revokeInvite(serviceContext(c), organizationId, c.req.valid('param').id)
    return c.json(invite, 200)
  }
)
