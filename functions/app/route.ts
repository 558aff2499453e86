import { createRoute, type RouteConfig } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import type { PrincipalKind } from '../domain/context.js'
import type { AppEnv } from './env.js'
import { allow } from './middleware/authenticate.js'
import { idempotent } from './middleware/idempotency.js'
import { BEARER } from './openapi.js'

export interface Credentials {
  /** The credential kinds the route admits (any other valid credential → 403). */
  credentials: PrincipalKind[]
  /** A creating POST: honours Idempotency-Key. */
  idempotent?: boolean
}

/**
 * A route that needs a bearer credential: the OpenAPI security entry and the middleware that
 * authenticates (and, for creates, makes the request idempotent) come from one declaration.
 */
export function securedRoute<
  P extends string,
  R extends Omit<RouteConfig, 'path' | 'middleware' | 'security'> & { path: P },
>(access: Credentials, config: R) {
  const middleware: MiddlewareHandler<AppEnv>[] = [allow(...access.credentials)]
  if (access.idempotent) middleware.push(idempotent())
  return createRoute({ ...config, security: BEARER, middleware })
}

/** An admin key of the organization. */
export const ADMIN: Credentials = { credentials: ['admin'] }
/** An admin key, on a route that creates (Idempotency-Key). */
export const ADMIN_CREATE: Credentials = { credentials: ['admin'], idempotent: true }
/** The operator key. */
export const OPERATOR: Credentials = { credentials: ['operator'] }
/** The operator key, on a route that creates (Idempotency-Key). */
export const OPERATOR_CREATE: Credentials = { credentials: ['operator'], idempotent: true }
