import type { Db } from './db.js'
import { ConditionFailedError } from './db.js'
import { keys } from './keys.js'
import { RetryingDb } from './retrying-db.js'

export interface IdempotencyRecord {
  fingerprint: string
  status: 'in_progress' | 'completed'
  /** Epoch ms after which an in-progress claim may be taken over (its holder is presumed dead). */
  locked_until: number
  /** The first response, encrypted under a key derived from the client's Idempotency-Key. */
  response?: string
  expires_at_epoch: number
}

/**
 * Idempotency records: `IDEM#<scope>#<sha256(key)>` / `IDEM`, expiring after 24 h (checked on
 * read; TTL deletes them eventually). A claim is a conditional put, so of concurrent requests
 * with one key exactly one runs.
 */
export const idempotencyRecords = {
  async get(
    db: Db,
    scope: string,
    keyHash: string,
    now: Date
  ): Promise<IdempotencyRecord | undefined> {
    const item = await db.get(keys.idempotency(scope, keyHash))
    if (!item || (item.expires_at_epoch as number) * 1000 <= now.getTime()) return undefined
    return item as unknown as IdempotencyRecord
  },

  /** Claims the key; false if a live record exists (other fingerprint, completed, or locked). */
  async claim(
    db: Db,
    scope: string,
    keyHash: string,
    record: IdempotencyRecord,
    now: Date
  ): Promise<boolean> {
    try {
      await db.put(
        { ...keys.idempotency(scope, keyHash), ...record },
        {
          expression:
            'attribute_not_exists(PK) OR expires_at_epoch <= :nowSec OR ' +
            '(#status = :inProgress AND locked_until <= :nowMs AND fingerprint = :fp)',
          names: { '#status': 'status' },
          values: {
            ':nowSec': Math.floor(now.getTime() / 1000),
            ':nowMs': now.getTime(),
            ':inProgress': 'in_progress',
            ':fp': record.fingerprint,
          },
        }
      )
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },

  /**
   * Records the response, tried again while the store is throttling or unavailable
   * (RetryingDb): the request's change is already made, and a key left `in_progress` lets a retry
   * take it over once its lock ends and make the change again. An unconditional SET, so
   * repeating it is harmless.
   */
  async complete(db: Db, scope: string, keyHash: string, response: string): Promise<void> {
    await new RetryingDb(db).update(keys.idempotency(scope, keyHash), {
      expression: 'SET #status = :completed, #response = :response',
      names: { '#status': 'status', '#response': 'response' },
      values: { ':completed': 'completed', ':response': response },
    })
  },

  async release(db: Db, scope: string, keyHash: string): Promise<void> {
    await db
      .delete(keys.idempotency(scope, keyHash), {
        expression: '#status = :inProgress',
        names: { '#status': 'status' },
        values: { ':inProgress': 'in_progress' },
      })
      .catch((error) => {
        if (!(error instanceof ConditionFailedError)) throw error
      })
  },
}
