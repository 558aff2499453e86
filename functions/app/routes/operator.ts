import { OpenAPIHono, z } from '@hono/zod-openapi'
import { SERVICE_KEYS } from '../../domain/keys.js'
import {
  createOrganization,
  getOrganization,
  listOrganizations,
} from '../../domain/organizations.js'
import { listBody, pageRequest } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import { serviceContext } from '../http/handlers.js'
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
import { OPERATOR, OPERATOR_CREATE, securedRoute } from '../http/route.js'
import {
  AdminKeyWithSecretSchema,
  NameSchema,
  OrganizationSchema,
  ServiceKeySchema,
  ServiceKeyWithSecretSchema,
  WorkspaceSchema,
} from '../http/schemas/core.js'
import { secretHolderRoutes } from '../http/secret-holders.js'

/** Deployment-level routes for the operator key: organizations and service keys. */
export const operatorRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Operator']

const CreateOrganization = z.object({
  name: NameSchema,
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'an ISO 4217 code such as USD or EUR')
    .optional(),
})

operatorRoutes.openapi(
  securedRoute(OPERATOR_CREATE, {
    method: 'post',
    path: '/v1/organizations',
    tags,
    summary: 'Create an organization with its default workspace and first admin key',
    request: { headers: IdempotencyHeader, body: jsonBody(CreateOrganization) },
    responses: {
      201: json(
        z.object({
          organization: OrganizationSchema,
          default_workspace: WorkspaceSchema,
          admin_key: AdminKeyWithSecretSchema,
        }),
        'Created; the admin key secret is shown only here'
      ),
      ...errorResponses(...AUTH_ERRORS, 409),
    },
  }),
  async (c) => {
    const created = await createOrganization(serviceContext(c), c.req.valid('json'))
    return c.json(created, 201)
  }
)

operatorRoutes.openapi(
  securedRoute(OPERATOR, {
    method: 'get',
    path: '/v1/organizations',
    tags,
    summary: 'List organizations',
    request: { query: PageQuery },
    responses: {
      200: json(listOf(OrganizationSchema), 'Organizations'),
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    const page = await listOrganizations(serviceContext(c), pageRequest(c, c.req.valid('query')))
    return c.json(listBody(c, page), 200)
  }
)

operatorRoutes.openapi(
  securedRoute(OPERATOR, {
    method: 'get',
    path: '/v1/organizations/{id}',
    tags,
    summary: 'Get an organization',
    request: { params: IdParam },
    responses: {
      200: json(OrganizationSchema, 'The organization'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const organization = await getOrganization(serviceContext(c), c.req.valid('param').id)
    return c.json(organization, 200)
  }
)

secretHolderRoutes(operatorRoutes, {
  path: '/v1/service-keys',
  tags,
  owner: { by: 'operator' },
  holders: SERVICE_KEYS,
  schemas: {
    record: ServiceKeySchema,
    withSecret: ServiceKeyWithSecretSchema,
    create: z.object({ name: NameSchema }),
  },
  text: {
    list: 'List service keys',
    listed: 'Service keys',
    create: 'Create a service key for a first-party product',
    revoke: 'Revoke a service key',
    revoked: 'The revoked key',
  },
})
