import type { Db } from './db.js'
import { revisions } from './revisions.js'

/** How long (ms) a cached Admin read is used at all: bounds how late another instance's change shows. */
export const ADMIN_READ_CACHE_MS = 1000
const MAX_CACHED_READS = 10_000

interface Entry {
  /** The organization revision this process knew before the read started. */
  revision: number
  /** performance.now() when the read started. */
  readAt: number
  value: unknown
}

/** Per table client (shared by its wrappers), like the revisions this process knows. */
const caches = new WeakMap<Db, Map<string, Entry>>()

function cacheOf(db: Db): Map<string, Entry> {
  let cache = caches.get(db.cacheIdentity)
  if (!cache) {
    cache = new Map()
    caches.set(db.cacheIdentity, cache)
  }
  return cache
}

/**
 * Admin reads of an organization answered from a process-local cache, with the freshness rule
 * decisions have (docs/hot-path.md, "Admin reads"): an entry records the revision this process
 * knew before its read started and is used only while that is still the latest revision known
 * and for at most `ADMIN_READ_CACHE_MS`. Every committed Admin change bumps the revision
 * (functions/domain/audit.ts), so a change made through this process is seen by its very next
 * read, and another instance's within a second. Only for reads whose every change bumps the
 * revision. A read that throws (a 404) is not kept. Cached values are shared: read-only.
 */
export const adminReads = {
  /**
   * `load()` through the cache under `read` (the exact read: route, ids, page, filters).
   * `fresh` skips the cache (the client sent `Cache-Control: no-cache`) and refreshes the entry.
   */
  async read<T>(
    db: Db,
    organizationId: string,
    read: string,
    load: () => Promise<T>,
    options: { fresh?: boolean } = {}
  ): Promise<T> {
    const cache = cacheOf(db)
    const key = `${organizationId}\n${read}`
    const started = performance.now()
    // -1 when this process has not seen the revision yet: any revision it learns later is newer.
    const known = revisions.latestKnown(db, organizationId) ?? -1
    const hit = cache.get(key)
    if (
      hit &&
      !options.fresh &&
      hit.revision === known &&
      started - hit.readAt < ADMIN_READ_CACHE_MS
    ) {
      return hit.value as T
    }
    const value = await load()
    const latest = cache.get(key)
    // A read that started later (and so knows at least as much) is not replaced.
    if (!latest || latest.readAt <= started) {
      // Kept in the order read, so the oldest entries (the least recently read) go first: those
      // past their second at once (a page can be large), and beyond the bound the oldest.
      cache.delete(key)
      cache.set(key, { revision: known, readAt: started, value })
      const now = performance.now()
      for (const [oldKey, entry] of cache) {
        if (cache.size <= MAX_CACHED_READS && now - entry.readAt < ADMIN_READ_CACHE_MS) break
        cache.delete(oldKey)
      }
    }
    return value
  },
}
