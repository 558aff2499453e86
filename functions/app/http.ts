import type { Context } from 'hono'
import type { AdminAction, AdminResource } from '../authz/admin.js'
import { type AdminPrincipal, actorOf, type ServiceContext } from '../domain/context.js'
import { forbidden, invalid } from '../lib/errors.js'
import type { AppEnv } from './env.js'

/** The domain's view of a request: store, clock, acting principal, request id. */
export function serviceContext(c: Context<AppEnv>): ServiceContext {
  const { db, clock } = c.get('deps')
  return { db, clock, actor: actorOf(c.get('principal')), requestId: c.get('requestId') }
}

export function adminPrincipal(c: Context<AppEnv>): AdminPrincipal {
  const principal = c.get('principal')
  if (principal.kind !== 'admin') throw forbidden('This route needs an admin key.')
  return principal
}

/**
 * Asks the policy engine whether the calling admin key may do `action` on `resource` (the
 * same decision path and policy set as product decisions); a deny is a 403 naming the action.
 * Returns the admin principal for convenience.
 */
export async function guard(
  c: Context<AppEnv>,
  action: AdminAction,
  resource?: AdminResource
): Promise<AdminPrincipal> {
  const principal = adminPrincipal(c)
  const target = resource ?? { type: 'Organization', organizationId: principal.organizationId }
  const decision = await c.get('deps').decisions.authorizeAdmin(principal, action, target)
  if (decision.decision !== 'allow') {
    throw forbidden(
      `An admin key with roles [${principal.orgRoles.join(', ')}] may not ${action.replaceAll('_', ' ')}.`
    )
  }
  return principal
}

/** The version named by If-Match (`"3"`, `W/"3"`), or undefined when absent or `*`. */
export function expectedVersion(c: Context<AppEnv>): number | undefined {
  const header = c.req.header('if-match')
  if (header === undefined || header.trim() === '*') return undefined
  const match = /^\s*(?:W\/)?"(\d+)"\s*$/.exec(header)
  if (!match) throw invalid('If-Match must be an ETag returned by this API, e.g. "3".', 'If-Match')
  return Number(match[1])
}

export function etag(version: number): string {
  return `"${version}"`
}
