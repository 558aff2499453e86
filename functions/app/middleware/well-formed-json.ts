import { createMiddleware } from 'hono/factory'
import { invalid } from '../../lib/errors.js'
import type { AppEnv } from '../env.js'
import { errorResponse } from '../errors.js'
import { badRequest, scimErrorResponse } from '../scim/errors.js'

/** The media types Hono's JSON validator (and the SCIM router) read as JSON. */
const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i
/** A UTF-16 code unit that is half of a surrogate pair, alone. */
const LONE_SURROGATE = /\p{Surrogate}/u

/**
 * Refuses a JSON body holding a string that is not well-formed Unicode — an unpaired
 * surrogate, which JSON can carry as an escape (`"\ud800"`) but UTF-8 cannot encode. Left in,
 * it is stored and echoed (DynamoDB rejects it; clients decoding UTF-8 choke), or trips Cedar.
 * 400 naming the field (SCIM: `invalidValue`); a body that is not JSON is left to the route.
 */
export function wellFormedJson() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const essence = (c.req.header('content-type') ?? '').split(';')[0]!.trim()
    // The SCIM router reads a body without a content type as JSON too (identity providers).
    const scimUntyped = essence === '' && c.req.path.startsWith('/scim/') && c.req.method !== 'GET'
    if (JSON_TYPE.test(essence) || scimUntyped) {
      let body: unknown
      try {
        // Cached by Hono: the route's validator reads the same parsed body.
        body = await c.req.json()
      } catch {
        body = undefined
      }
      const path = illFormedAt(body)
      if (path !== undefined) {
        const message = `Invalid '${path || 'body'}': text must be well-formed Unicode (an unpaired surrogate was sent).`
        return c.req.path.startsWith('/scim/')
          ? scimErrorResponse(c, badRequest('invalidValue', message))
          : errorResponse(c, invalid(message, path || null))
      }
    }
    await next()
  })
}

/** The dotted path of the first ill-formed string (key or value), or undefined. Iterative: bodies may nest deeply. */
function illFormedAt(value: unknown): string | undefined {
  const stack: [unknown, string][] = [[value, '']]
  while (stack.length > 0) {
    const [node, path] = stack.pop()!
    if (typeof node === 'string') {
      if (LONE_SURROGATE.test(node)) return path
    } else if (Array.isArray(node)) {
      for (const [index, item] of node.entries()) {
        stack.push([item, path ? `${path}.${index}` : String(index)])
      }
    } else if (node !== null && typeof node === 'object') {
      for (const [key, item] of Object.entries(node)) {
        const at = path ? `${path}.${key}` : key
        if (LONE_SURROGATE.test(key)) return at
        stack.push([item, at])
      }
    }
  }
  return undefined
}
