import { z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { adminReads } from '../../store/admin-reads.js'
import type { AppEnv } from './env.js'

/** The request header of the cached Admin reads (docs/hot-path.md, "Admin reads"). */
export const CacheControlParameter = z
  .string()
  .optional()
  .openapi('CacheControl', {
    param: { name: 'cache-control', in: 'header' },
    description:
      'no-cache, no-store or max-age=0 (RFC 9111): read from the table, not from the up to 1 s old cache of this instance',
    example: 'no-cache',
  })

/** The cached Admin reads' `request.headers`: one reusable parameter in the OpenAPI document. */
export const CacheControlHeader = z.object({ 'cache-control': CacheControlParameter })

/**
 * Whether a Cache-Control request header asks for a response not taken from a cache
 * (RFC 9111 §5.2.1): `no-cache`, `no-store` or `max-age=0`. Directive names are
 * case-insensitive; anything else (or a malformed value) leaves the cache in use.
 */
export function wantsFreshRead(header: string | undefined): boolean {
  if (!header) return false
  for (const directive of header.split(',')) {
    const [rawName, rawValue] = directive.split('=', 2)
    const name = rawName!.trim().toLowerCase()
    if (name === 'no-cache' || name === 'no-store') return true
    if (name === 'max-age' && rawValue !== undefined) {
      // Every cached entry may be up to a second old: only max-age=0 rules it out.
      const value = rawValue.trim().replace(/^"(.*)"$/, '$1')
      if (/^\d+$/.test(value) && Number(value) === 0) return true
    }
  }
  return false
}

/**
 * An Admin read of the caller's organization through the read cache (functions/store/admin-reads.ts).
 * `read` names the exact read (its route and every argument that shapes the result); only for
 * reads whose every change is audited (and so bumps the organization's revision).
 */
export function cachedAdminRead<T>(
  c: Context<AppEnv>,
  organizationId: string,
  read: readonly unknown[],
  load: () => Promise<T>
): Promise<T> {
  return adminReads.read(c.get('deps').db, organizationId, JSON.stringify(read), load, {
    fresh: wantsFreshRead(c.req.header('cache-control')),
  })
}
