import type { OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { AdminAction } from '../../authz/admin.js'
import type { SecretHolders } from '../../domain/keys.js'
import { listBody, pageRequest } from './cursors.js'
import type { AppEnv } from './env.js'
import { guard, serviceContext } from './handlers.js'
import {
  AUTH_ERRORS,
  errorResponses,
  IdempotencyHeader,
  IdParam,
  json,
  jsonBody,
  listOf,
  PageQuery,
} from './openapi.js'
import { ADMIN, ADMIN_CREATE, OPERATOR, OPERATOR_CREATE, securedRoute } from './route.js'

/**
 * Who manages a kind of secret holder: admin keys of the organization, each request asking
 * Cedar for the read or manage action (records of the key's organization), or the operator key
 * (deployment-wide records).
 */
export type SecretHolderOwner =
  | { by: 'admin'; read: AdminAction; manage: AdminAction }
  | { by: 'operator' }

export interface SecretHolderRoutes<T, S extends z.ZodType> {
  /** The collection path, e.g. `/v1/admin-keys`; a record is at `{path}/{id}`. */
  path: string
  tags: string[]
  owner: SecretHolderOwner
  holders: SecretHolders<T, z.output<S>>
  schemas: { record: z.ZodType; withSecret: z.ZodType; create: S }
  /** OpenAPI texts: summaries of list, create and revoke; descriptions of a list and a revoked record. */
  text: { list: string; listed: string; create: string; revoke: string; revoked: string }
}

/**
 * The three routes of a kind of record that holds a secret (admin keys, SCIM tokens, service
 * keys): list, create (the secret in the 201 only) and revoke (DELETE `{path}/{id}`).
 */
export function secretHolderRoutes<T, S extends z.ZodType>(
  router: OpenAPIHono<AppEnv>,
  spec: SecretHolderRoutes<T, S>
): void {
  const { path, tags, owner, holders, schemas, text } = spec
  const admin = owner.by === 'admin'
  /** The scope the records live in, once the caller may act on them. */
  const scopeFor = async (c: Context<AppEnv>, intent: 'read' | 'manage') =>
    owner.by === 'admin' ? (await guard(c, owner[intent])).organizationId : ''

  router.openapi(
    securedRoute(admin ? ADMIN : OPERATOR, {
      method: 'get',
      path,
      tags,
      summary: text.list,
      request: { query: PageQuery },
      responses: {
        200: json(listOf(schemas.record), text.listed),
        ...errorResponses(...AUTH_ERRORS),
      },
    }),
    async (c) => {
      const scope = await scopeFor(c, 'read')
      const page = await holders.list(
        serviceContext(c),
        scope,
        pageRequest(c, c.req.valid('query'))
      )
      return c.json(listBody(c, page), 200)
    }
  )

  router.openapi(
    securedRoute(admin ? ADMIN_CREATE : OPERATOR_CREATE, {
      method: 'post',
      path,
      tags,
      summary: text.create,
      // Widened so the route's body type does not depend on S; the handler narrows it back.
      request: { headers: IdempotencyHeader, body: jsonBody<z.ZodType>(schemas.create) },
      responses: {
        201: json(schemas.withSecret, 'Created; the secret is shown only here'),
        ...errorResponses(...AUTH_ERRORS, 409),
      },
    }),
    async (c) => {
      const scope = await scopeFor(c, 'manage')
      const input = c.req.valid('json') as z.output<S>
      const created = await holders.create(serviceContext(c), scope, input)
      return c.json(created, 201)
    }
  )

  router.openapi(
    securedRoute(admin ? ADMIN : OPERATOR, {
      method: 'delete',
      path: `${path}/{id}`,
      tags,
      summary: text.revoke,
      request: { params: IdParam },
      responses: {
        200: json(schemas.record, text.revoked),
        ...errorResponses(...AUTH_ERRORS, 404),
      },
    }),
    async (c) => {
      const scope = await scopeFor(c, 'manage')
      const revoked = await holders.revoke(serviceContext(c), scope, c.req.valid('param').id)
      return c.json(revoked, 200)
    }
  )
}
