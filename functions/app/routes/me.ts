import { OpenAPIHono, z } from '@hono/zod-openapi'
import { ADMIN_ACTIONS, type AdminAction, type AdminResource } from '../../authz/admin.js'
import { getOrganization } from '../../domain/organizations.js'
import { getWorkspace } from '../../domain/workspaces.js'
import type { AppEnv } from '../http/env.js'
import { adminPrincipal, serviceContext } from '../http/handlers.js'
import { AUTH_ERRORS, errorResponses, json } from '../http/openapi.js'
import { ADMIN, securedRoute } from '../http/route.js'
import { OrgRoleSchema } from '../http/schemas/core.js'

/**
 * The calling admin key and what the policies let it do, so that a client (the console) shows
 * only the controls the server would accept. Each action is decided by the same Cedar path as
 * the route it guards; the routes still decide every request on their own.
 */
export const meRoutes = new OpenAPIHono<AppEnv>()

const ADMIN_ACTION_NAMES = Object.keys(ADMIN_ACTIONS) as [AdminAction, ...AdminAction[]]

const SessionSchema = z
  .object({
    object: z.literal('admin_key_session'),
    admin_key_id: z.string(),
    organization_id: z.string(),
    organization_name: z.string(),
    currency: z.string(),
    org_roles: z.array(OrgRoleSchema),
    allowed_actions: z.array(z.enum(ADMIN_ACTION_NAMES)).openapi({
      description:
        'Admin actions the policies allow this key on the organization (workspace actions: on its default workspace).',
    }),
  })
  .openapi('AdminKeySession')

meRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/me',
    tags: ['Organization'],
    summary: 'The calling admin key: its organization, roles and allowed Admin actions',
    responses: {
      200: json(SessionSchema, 'The calling key'),
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    const principal = adminPrincipal(c)
    const ctx = serviceContext(c)
    const organization = await getOrganization(ctx, principal.organizationId)
    const defaultWorkspace = await getWorkspace(
      ctx,
      principal.organizationId,
      organization.default_workspace_id
    )
    const decisions = c.get('deps').decisions
    const allowed = await Promise.all(
      ADMIN_ACTION_NAMES.map(async (action) => {
        const resource: AdminResource =
          ADMIN_ACTIONS[action] === 'Workspace'
            ? { type: 'Workspace', workspace: defaultWorkspace }
            : { type: 'Organization', organizationId: principal.organizationId }
        const decision = await decisions.authorizeAdmin(principal, action, resource)
        return decision.decision === 'allow' ? [action] : []
      })
    )
    return c.json(
      {
        object: 'admin_key_session' as const,
        admin_key_id: principal.id,
        organization_id: principal.organizationId,
        organization_name: organization.name,
        currency: organization.currency,
        org_roles: principal.orgRoles,
        allowed_actions: allowed.flat(),
      },
      200
    )
  }
)
