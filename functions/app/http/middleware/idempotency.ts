import { createHash } from 'node:crypto'
import { createMiddleware } from 'hono/factory'
import { busy, conflict, invalid } from '../../../lib/errors.js'
import { logger } from '../../../lib/logger.js'
import { seal, unseal } from '../../../lib/sealed.js'
import { idempotencyRecords } from '../../../store/idempotency.js'
import type { AppEnv } from '../env.js'

const RETENTION_SECONDS = 24 * 60 * 60
/** How long a claim holds before another attempt may take it over (a crashed request). */
const LOCK_MS = 60_000
const KEY_SYNTAX = /^[\x21-\x7e]{1,255}$/

interface StoredResponse {
  status: number
  contentType: string
  body: string
}

/**
 * `Idempotency-Key` on creating POSTs: the first 2xx response is kept (sealed) for 24 h and
 * replayed for the same key and body; the same key with another body → 409; a concurrent
 * duplicate → 409. Failed requests release the key, since they wrote nothing.
 * Keys are scoped to the calling credential.
 */
export function idempotent() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const key = c.req.header('idempotency-key')
    if (key === undefined) return next()
    if (!KEY_SYNTAX.test(key)) {
      throw invalid('Idempotency-Key must be 1 to 255 visible ASCII characters.', 'Idempotency-Key')
    }
    const { db, clock } = c.get('deps')
    const principal = c.get('principal')
    const scope = `${principal.kind}:${principal.id}`
    const keyHash = sha256(key)
    const fingerprint = sha256(
      `${c.req.method} ${c.req.path}\n${canonicalBody(await c.req.text())}`
    )
    const now = clock.now()
    const claimed = await idempotencyRecords.claim(
      db,
      scope,
      keyHash,
      {
        fingerprint,
        status: 'in_progress',
        locked_until: now.getTime() + LOCK_MS,
        expires_at_epoch: Math.floor(now.getTime() / 1000) + RETENTION_SECONDS,
      },
      now
    )
    if (!claimed) {
      const existing = await idempotencyRecords.get(db, scope, keyHash, now)
      if (existing && existing.fingerprint !== fingerprint) {
        throw conflict(
          'This Idempotency-Key was already used with a different request.',
          'Idempotency-Key'
        )
      }
      if (!existing?.response) {
        // The first request holds the key until locked_until (then a retry may take it over).
        throw busy(
          'A request with this Idempotency-Key is still in progress; retry after Retry-After seconds.',
          ((existing?.locked_until ?? now.getTime()) - now.getTime()) / 1000,
          'Idempotency-Key'
        )
      }
      const stored = JSON.parse(unseal(existing.response, key, scope)) as StoredResponse
      return new Response(stored.body, {
        status: stored.status,
        headers: {
          'content-type': stored.contentType,
          'idempotent-replayed': 'true',
          'x-request-id': c.get('requestId'),
        },
      })
    }
    await next()
    const response = c.res
    if (response.status >= 200 && response.status < 300) {
      const stored: StoredResponse = {
        status: response.status,
        contentType: response.headers.get('content-type') ?? 'application/json',
        body: await response.clone().text(),
      }
      try {
        await idempotencyRecords.complete(
          db,
          scope,
          keyHash,
          seal(JSON.stringify(stored), key, scope)
        )
      } catch (error) {
        // The change is made: answer it. A 500 here would invite the retry that, once the lock
        // ends, makes it a second time; until then a retry with this key gets 409.
        logger.error('idempotency record not completed', { error, request_id: c.get('requestId') })
      }
    } else {
      await idempotencyRecords.release(db, scope, keyHash)
    }
  })
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/** JSON bodies compare by value (key order and whitespace do not matter). */
function canonicalBody(text: string): string {
  try {
    return stableStringify(JSON.parse(text))
  } catch {
    return text
  }
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : 1
    )
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}
