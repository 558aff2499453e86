import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../env.js'

const JSON_TYPE = /^application\/([\w.+-]+\+)?json/i
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * JSON is UTF-8 (RFC 8259 §8.1). A JSON body with bytes that are not would otherwise be read
 * with U+FFFD in their place and stored changed; it is refused instead. The bytes read here
 * stay cached for the validators.
 */
export function utf8JsonBody(refuse: (c: Context<AppEnv>) => Response) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.raw.body && JSON_TYPE.test(c.req.header('content-type') ?? '')) {
      const bytes = await c.req.arrayBuffer()
      try {
        strictUtf8.decode(bytes)
      } catch {
        return refuse(c)
      }
    }
    await next()
  })
}
