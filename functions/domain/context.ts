import type { Clock } from '../lib/clock.js'
import type { Actor, OrgRole } from '../model/index.js'
import type { Db } from '../store/db.js'

/** Who is calling, as established by authentication. */
export type Principal =
  | { kind: 'operator'; id: 'operator' }
  | { kind: 'service'; id: string }
  | { kind: 'admin'; id: string; organizationId: string; orgRoles: OrgRole[] }
  | { kind: 'scim'; id: string; organizationId: string }
  | { kind: 'api_key'; id: string; organizationId: string }

export type PrincipalKind = Principal['kind']
export type AdminPrincipal = Extract<Principal, { kind: 'admin' }>

/** What every domain operation needs: the store, the time, and who acts (for the audit log). */
export interface ServiceContext {
  db: Db
  clock: Clock
  actor: Actor
  requestId: string | null
}

export function actorOf(principal: Principal): Actor {
  switch (principal.kind) {
    case 'operator':
      return { type: 'operator', id: 'operator' }
    case 'service':
      return { type: 'service_key', id: principal.id }
    case 'admin':
      return { type: 'admin_key', id: principal.id }
    case 'scim':
      return { type: 'scim_token', id: principal.id }
    case 'api_key':
      return { type: 'api_key', id: principal.id }
  }
}
