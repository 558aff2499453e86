import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Context } from 'hono'
import { invalid } from '../../lib/errors.js'
import type { Page } from '../../store/pagination.js'
import type { AppEnv } from './env.js'

/**
 * Cursors as the API hands them out: opaque and tamper-evident. The listing's own position
 * (a table key, a policy id, a report bucket) is sealed with an HMAC over what the cursor is
 * bound to — the route with its path ids, the caller's organization and the request's filters
 * — so a cursor the server did not issue, or issued for another list, organization or filter
 * set, is a 400 before it reaches the store (docs/pagination.md).
 */

const VERSION = 'c1'
const MAC_BYTES = 16
/** Query parameters that may change from page to page: they do not bind the cursor. */
const UNBOUND = new Set(['after', 'page', 'limit', 'format'])

/** The cursor key, derived from the operator key (both the local server and Lambda have it). */
export function deriveCursorKey(operatorKey: string): Buffer {
  return createHmac('sha256', operatorKey).update('cursor-v1').digest()
}

function binding(c: Context<AppEnv>): string {
  const principal = c.get('principal')
  const scope = 'organizationId' in principal ? principal.organizationId : principal.kind
  const filters = [...new URL(c.req.url).searchParams]
    .filter(([name]) => !UNBOUND.has(name))
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
  return JSON.stringify([c.req.path, scope, filters])
}

function mac(c: Context<AppEnv>, position: string): Buffer {
  return createHmac('sha256', c.get('deps').cursorKey)
    .update(binding(c))
    .update('\n')
    .update(position)
    .digest()
    .subarray(0, MAC_BYTES)
}

/** Seals a listing position into the cursor the client gets (null stays null). */
export function sealCursor(c: Context<AppEnv>, position: string | null): string | null {
  if (position === null) return null
  const payload = Buffer.from(position, 'utf8').toString('base64url')
  return `${VERSION}.${payload}.${mac(c, position).toString('base64url')}`
}

/**
 * The listing position in the request's cursor parameter (`after`, or `page` for reports), or
 * undefined when there is none; a cursor this server did not issue for this very list → 400.
 */
export function openCursor(c: Context<AppEnv>, param = 'after'): string | undefined {
  const cursor = c.req.query(param)
  if (cursor === undefined) return undefined
  const [version, payload, signature, extra] = cursor.split('.')
  if (version === VERSION && payload && signature && extra === undefined) {
    const position = Buffer.from(payload, 'base64url').toString('utf8')
    const given = Buffer.from(signature, 'base64url')
    // Canonical encodings only, so a cursor has exactly one spelling.
    if (
      Buffer.from(position, 'utf8').toString('base64url') === payload &&
      given.toString('base64url') === signature &&
      given.length === MAC_BYTES &&
      timingSafeEqual(given, mac(c, position))
    ) {
      return position
    }
  }
  throw invalid(
    `The ${param} cursor was not issued for this list (route, organization and filters); start again from the first page.`,
    param
  )
}

/** A list route's page request: its query with `after` verified and opened. */
export function pageRequest<Q extends { after?: string | undefined }>(
  c: Context<AppEnv>,
  query: Q
): Q {
  return { ...query, after: openCursor(c) }
}

/** A list route's body, with its next cursor sealed. */
export function listBody<T>(c: Context<AppEnv>, page: Page<T>) {
  return { object: 'list' as const, ...page, next_cursor: sealCursor(c, page.next_cursor) }
}
