import { preconditionFailed, staleVersion } from '../lib/errors.js'
import { ConditionFailedError } from '../store/db.js'

const MAX_ATTEMPTS = 5

export interface VersionedUpdate<T extends { version: number }> {
  load: () => Promise<T | undefined>
  /** Thrown when the record does not exist. */
  missing: () => Error
  /** The version the caller saw (If-Match); a different stored version → 412. */
  expectedVersion?: number | undefined
  /** The new record, or undefined when nothing changes. May throw to refuse the change. */
  apply: (current: T) => T | undefined
  save: (next: T, expectedVersion: number) => Promise<T>
}

/**
 * Read-modify-write with optimistic locking. Without If-Match a lost race is retried on fresh
 * data; with If-Match it is a 412, because the caller's view is stale.
 */
export async function updateVersioned<T extends { version: number }>(
  update: VersionedUpdate<T>
): Promise<{ before: T; after: T; changed: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const current = await update.load()
    if (!current) throw update.missing()
    if (update.expectedVersion !== undefined && current.version !== update.expectedVersion) {
      throw staleVersion('resource', current.version, update.expectedVersion)
    }
    const next = update.apply(current)
    if (!next) return { before: current, after: current, changed: false }
    try {
      const after = await update.save(next, current.version)
      return { before: current, after, changed: true }
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error
      if (update.expectedVersion !== undefined || attempt >= MAX_ATTEMPTS) {
        throw preconditionFailed('The resource was changed by another request; read it again.')
      }
    }
  }
}
