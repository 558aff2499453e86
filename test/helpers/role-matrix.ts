import { describe, expect, it } from 'vitest'
import type { OrgRole } from '../../functions/model/index.js'
import type { Harness } from './harness.js'

/** One Admin route of a role matrix: the org roles the contract allows, and a request to it. */
export interface RoleMatrixRow {
  route: string
  allowed: OrgRole[]
  /** Builds the request (it may create what the request needs first). */
  request: () => Promise<{ method: string; path: string; body?: unknown }>
}

export const ALL_ROLES: OrgRole[] = ['organization_admin', 'billing_manager', 'member']
/** May read everything (and change billing settings). */
export const READERS: OrgRole[] = ['organization_admin', 'billing_manager']
export const ADMIN_ONLY: OrgRole[] = ['organization_admin']
/** May change spend limits, prices and seats. */
export const BILLING_WRITERS: OrgRole[] = ['organization_admin', 'billing_manager']

/**
 * Every row × every org role through HTTP: an allowed role gets a 2xx, any other a 403 of type
 * `permission`. `context()` gives the harness and one admin key per role once `beforeAll` ran.
 */
export function describeRoleMatrix(
  rows: RoleMatrixRow[],
  context: () => { h: Harness; keys: Record<OrgRole, string> }
): void {
  describe.each(rows)('$route', (row) => {
    it.each(ALL_ROLES)('as %s', async (role) => {
      const { h, keys } = context()
      const { method, path, body } = await row.request()
      const res = await h.call(method, path, { key: keys[role], body })
      if (row.allowed.includes(role)) {
        expect(res.status, res.text).toBeLessThan(300)
      } else {
        expect(res.status, res.text).toBe(403)
        expect(res.body.error.type).toBe('permission')
      }
    })
  })
}
