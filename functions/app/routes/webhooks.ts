import { OpenAPIHono } from '@hono/zod-openapi'
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  sendTestEvent,
  updateWebhookEndpoint,
} from '../../webhooks/endpoints.js'
import { STRICT_URL_POLICY } from '../../webhooks/url.js'
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
  NewWebhookEndpointBody,
  WebhookDeliverySchema,
  WebhookEndpointDeletedSchema,
  WebhookEndpointPatchBody,
  WebhookEndpointSchema,
  WebhookEndpointWithSecretSchema,
} from '../http/schemas/webhooks.js'

export const webhookRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Webhooks']

webhookRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/webhooks',
    tags,
    summary: 'List webhook endpoints (never with their signing secrets)',
    request: { query: PageQuery },
    responses: {
      200: json(listOf(WebhookEndpointSchema), 'Webhook endpoints'),
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_webhooks')
    const page = pageRequest(c, c.req.valid('query'))
    const result = await listWebhookEndpoints(serviceContext(c), organizationId, page)
    return c.json(listBody(c, result), 200)
  }
)

webhookRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'post',
    path: '/v1/webhooks',
    tags,
    summary:
      'Create a webhook endpoint; its signing secret (whsec_…) is shown only here. Events are signed as Standard Webhooks',
    request: { headers: IdempotencyHeader, body: jsonBody(NewWebhookEndpointBody) },
    responses: {
      201: json(WebhookEndpointWithSecretSchema, 'Created; the signing secret is shown only here'),
      ...errorResponses(...AUTH_ERRORS, 409),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_webhooks')
    const endpoint = await createWebhookEndpoint(
      serviceContext(c),
      organizationId,
      c.req.valid('json'),
      c.get('deps').webhookUrls ?? STRICT_URL_POLICY
    )
    return c.json(endpoint, 201)
  }
)

webhookRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/webhooks/{id}',
    tags,
    summary: 'Get a webhook endpoint (without its signing secret)',
    request: { params: IdParam },
    responses: {
      200: json(WebhookEndpointSchema, 'The endpoint'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_webhooks')
    const endpoint = await getWebhookEndpoint(
      serviceContext(c),
      organizationId,
      c.req.valid('param').id
    )
    return respondWithVersion(c, endpoint, 200)
  }
)

webhookRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'patch',
    path: '/v1/webhooks/{id}',
    tags,
    summary: 'Change a webhook endpoint (its signing secret stays, and is not shown)',
    request: {
      params: IdParam,
      headers: IfMatchHeader,
      body: jsonBody(WebhookEndpointPatchBody),
    },
    responses: {
      200: json(WebhookEndpointSchema, 'The updated endpoint'),
      ...errorResponses(...AUTH_ERRORS, 404, 412),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_webhooks')
    const endpoint = await updateWebhookEndpoint(
      serviceContext(c),
      organizationId,
      c.req.valid('param').id,
      c.req.valid('json'),
      c.get('deps').webhookUrls ?? STRICT_URL_POLICY,
      expectedVersion(c)
    )
    return respondWithVersion(c, endpoint, 200)
  }
)

webhookRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'delete',
    path: '/v1/webhooks/{id}',
    tags,
    summary: 'Delete a webhook endpoint; its pending deliveries are not sent',
    request: { params: IdParam, headers: IfMatchHeader },
    responses: {
      200: json(WebhookEndpointDeletedSchema, 'Deleted'),
      ...errorResponses(...AUTH_ERRORS, 404, 412),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_webhooks')
    const result = await deleteWebhookEndpoint(
      serviceContext(c),
      organizationId,
      c.req.valid('param').id,
      expectedVersion(c)
    )
    return c.json(result, 200)
  }
)

webhookRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/webhooks/{id}/deliveries',
    tags,
    summary: "An endpoint's deliveries, newest first, each with every attempt made",
    request: { params: IdParam, query: PageQuery },
    responses: {
      200: json(listOf(WebhookDeliverySchema), 'Deliveries'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_webhooks')
    const page = pageRequest(c, c.req.valid('query'))
    const result = await listWebhookDeliveries(
      serviceContext(c),
      organizationId,
      c.req.valid('param').id,
      page
    )
    return c.json(listBody(c, result), 200)
  }
)

webhookRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'post',
    path: '/v1/webhooks/{id}/test',
    tags,
    summary:
      'Queue a webhook.test event for this endpoint; the deliverer sends it like any event (see its deliveries)',
    request: { params: IdParam, headers: IdempotencyHeader },
    responses: {
      202: json(WebhookDeliverySchema, 'Queued'),
      ...errorResponses(...AUTH_ERRORS, 404, 409),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_webhooks')
    const delivery = await sendTestEvent(serviceContext(c), organizationId, c.req.valid('param').id)
    return c.json(delivery, 202)
  }
)
