import { createRoute, type RouteConfig, type z } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import type { PrincipalKind } from '../../domain/context.js'
import { notFound } from '../../lib/errors.js'
import { type IdKind, isIdOf } from '../../lib/ids.js'
import type { AppEnv } from './env.js'
import { allow } from './middleware/authenticate.js'
import { idempotent } from './middleware/idempotency.js'
import { BEARER } from './openapi.js'
import { strictQuery } from './query.js'

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
  const ids = pathIds(config.path)
  if (ids.length > 0) middleware.push(wellFormedIds(ids))
  // Before the validators: unknown query parameters → 400, aliases → their canonical name.
  const query = config.request?.query as z.ZodObject | undefined
  middleware.push(strictQuery(query, `${config.method.toUpperCase()} ${config.path}`))
  if (access.idempotent) middleware.push(idempotent())
  const description = [config.description, credentialsNote(access)].filter(Boolean).join('\n\n')
  return createRoute({ ...config, description, security: BEARER, middleware })
}

const CREDENTIAL_NAMES: Record<PrincipalKind, string> = {
  operator: 'the operator key',
  service: 'a service key',
  admin: 'an admin key of the organization, with a role that allows it',
  scim: 'a SCIM token',
  api_key: 'a workspace API key',
}

/** The document says which credential an operation admits (any other → 401 or 403). */
function credentialsNote(access: Credentials): string {
  const kinds = access.credentials.map((kind) => CREDENTIAL_NAMES[kind] ?? kind)
  const idempotency = access.idempotent
    ? ' Replays the first response for a repeated Idempotency-Key.'
    : ''
  return `Credential: ${kinds.join(' or ')}.${idempotency}`
}

/** An admin key of the organization. */
export const ADMIN: Credentials = { credentials: ['admin'] }
/** An admin key, on a route that creates (Idempotency-Key). */
export const ADMIN_CREATE: Credentials = { credentials: ['admin'], idempotent: true }
/** The operator key. */
export const OPERATOR: Credentials = { credentials: ['operator'] }
/** The operator key, on a route that creates (Idempotency-Key). */
export const OPERATOR_CREATE: Credentials = { credentials: ['operator'], idempotent: true }

/** The collections whose `{param}` is an id this API issues, by the path segment before it. */
const ID_OF_COLLECTION: Record<string, { kind: IdKind; what: string }> = {
  organizations: { kind: 'organization', what: 'organization' },
  workspaces: { kind: 'workspace', what: 'workspace' },
  members: { kind: 'member', what: 'member' },
  groups: { kind: 'group', what: 'group' },
  subgroups: { kind: 'group', what: 'group' },
  invites: { kind: 'invite', what: 'invite' },
  'api-keys': { kind: 'apiKey', what: 'API key' },
  'admin-keys': { kind: 'adminKey', what: 'admin key' },
  'service-keys': { kind: 'serviceKey', what: 'service key' },
  'scim-tokens': { kind: 'scimToken', what: 'SCIM token' },
  decisions: { kind: 'decision', what: 'decision' },
  webhooks: { kind: 'webhookEndpoint', what: 'webhook endpoint' },
}

interface PathId {
  param: string
  kind: IdKind
  what: string
}

/** The id parameters of an OpenAPI path, e.g. `/v1/workspaces/{id}/access/members/{member_id}`. */
function pathIds(path: string): PathId[] {
  const segments = path.split('/')
  return segments.flatMap((segment, i) => {
    const param = /^\{(\w+)\}$/.exec(segment)?.[1]
    const collection = ID_OF_COLLECTION[segments[i - 1] ?? '']
    return param && collection ? [{ param, ...collection }] : []
  })
}

/**
 * Ids have one format (prefix + ULID): anything else names no resource, so it is a 404 before
 * any store read, and no caller-chosen string of any length reaches a key.
 */
function wellFormedIds(ids: PathId[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    for (const { param, kind, what } of ids) {
      const value = c.req.param(param)
      if (value !== undefined && !isIdOf(kind, value)) {
        throw notFound(what, value.length > 64 ? `${value.slice(0, 64)}…` : value, param)
      }
    }
    await next()
  }
}
