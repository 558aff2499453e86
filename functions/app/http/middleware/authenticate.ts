import { createMiddleware } from 'hono/factory'
import { actorOf, type PrincipalKind } from '../../../domain/context.js'
import { authenticate } from '../../../domain/keys.js'
import { forbidden, unauthenticated } from '../../../lib/errors.js'
import type { AppEnv } from '../env.js'

const KIND_NAMES: Record<PrincipalKind, string> = {
  operator: 'the operator key',
  service: 'a service key',
  admin: 'an admin key',
  scim: 'a SCIM token',
  api_key: 'a workspace API key',
}

/**
 * Route middleware: authenticates the bearer secret (401 when missing, unknown, revoked or
 * expired) and admits only the credential kinds listed (403 for any other known credential).
 */
export function allow(...kinds: PrincipalKind[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header('authorization') ?? ''
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!match) throw unauthenticated('Send a credential as "Authorization: Bearer <secret>".')
    const { db, clock, operatorKey } = c.get('deps')
    const principal = await authenticate(db, clock.now(), operatorKey, match[1]!)
    if (!principal) throw unauthenticated('The credential is unknown, revoked or expired.')
    c.set('principal', principal)
    c.get('log').appendKeys({ actor: actorOf(principal) })
    if (!kinds.includes(principal.kind)) {
      throw forbidden(
        `This route needs ${kinds.map((kind) => KIND_NAMES[kind]).join(' or ')}; ${KIND_NAMES[principal.kind]} was sent.`
      )
    }
    await next()
  })
}
