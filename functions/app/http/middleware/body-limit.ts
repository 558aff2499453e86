import type { Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../env.js'

/**
 * Hono's bodyLimit, but deciding from `Content-Length` without touching the request's body
 * stream when it can. Hono's own middleware first asks `c.req.raw.body`, and on
 * @hono/node-server that one property turns the lightweight request into a full web Request
 * with a stream over the socket, which every later read then goes through (≈ 15 % of a warm
 * `POST /v1/authorize`'s CPU). A body sent without a length (chunked) is counted by Hono's
 * middleware as before.
 */
export function limitBody(maxSize: number, onError: (c: Context<AppEnv>) => Response) {
  const streamed = bodyLimit({ maxSize, onError })
  return createMiddleware<AppEnv>(async (c, next) => {
    const length = declaredLength(c)
    if (length === undefined) return streamed(c, next)
    // The same test as Hono's for a declared length.
    if (length > maxSize) return onError(c)
    await next()
  })
}

/**
 * The body's length as the request declares it (`Content-Length` without `Transfer-Encoding`,
 * parsed as Hono's bodyLimit does), or undefined when only reading the body can tell — also
 * for a length that is no number (Node refuses those itself; behind another adapter the body
 * is then read and counted).
 */
export function declaredLength(c: Context): number | undefined {
  const length = c.req.header('content-length')
  if (length === undefined || c.req.header('transfer-encoding') !== undefined) return undefined
  const declared = Number.parseInt(length || '0', 10)
  return Number.isNaN(declared) ? undefined : declared
}
