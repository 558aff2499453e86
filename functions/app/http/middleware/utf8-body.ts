import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../env.js'
import { declaredLength } from './body-limit.js'

const JSON_TYPE = /^application\/([\w.+-]+\+)?json/i
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * JSON is UTF-8 (RFC 8259 §8.1). A JSON body with bytes that are not would otherwise be read
 * with U+FFFD in their place and stored changed; it is refused instead. The text decoded here
 * is what the validators parse (Hono's body cache): decoded once, not again from the bytes.
 */
export function utf8JsonBody(refuse: (c: Context<AppEnv>) => Response) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (JSON_TYPE.test(c.req.header('content-type') ?? '') && hasBody(c)) {
      const bytes = await c.req.arrayBuffer()
      let text: string
      try {
        text = strictUtf8.decode(bytes)
      } catch {
        return refuse(c)
      }
      // Hono keeps each body read as a promise (`#cachedBody`); its type names the value.
      c.req.bodyCache.text = Promise.resolve(text) as unknown as string
    }
    await next()
  })
}

/** Whether the request has a body, from its headers when they tell (not opening its stream). */
function hasBody(c: Context<AppEnv>): boolean {
  const length = declaredLength(c)
  return length === undefined ? c.req.raw.body !== null : length > 0
}
