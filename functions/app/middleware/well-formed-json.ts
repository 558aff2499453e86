import { createMiddleware } from 'hono/factory'
import { AppError } from '../../lib/errors.js'
import type { AppEnv } from '../env.js'
import { errorResponse } from '../errors.js'
import { badRequest, scimErrorResponse } from '../scim/errors.js'

/** A UTF-16 surrogate without its pair: JSON's `\ud800` escape can carry one, UTF-8 cannot. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * Refuses a JSON body holding a string (or key) that is not well-formed Unicode, naming the
 * field: such a string cannot be encoded as UTF-8, so Cedar (which fails inside its wasm on
 * it) and the store must never see it. The body is parsed once here; Hono caches the parse
 * for the route's validator. Malformed JSON is left to the validator's own 400.
 */
export function wellFormedJson() {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (!c.req.header('content-type')?.includes('json')) return next()
    let body: unknown
    try {
      body = await c.req.json()
    } catch {
      return next()
    }
    const field = illFormedField(body)
    if (field === undefined) return next()
    const message = `${field ? `'${field}'` : 'The body'} is not well-formed Unicode: it holds a lone UTF-16 surrogate (e.g. \\ud800).`
    if (c.req.path.startsWith('/scim/')) {
      return scimErrorResponse(c, badRequest('invalidValue', message))
    }
    return errorResponse(c, new AppError('invalid_request', message, field || null))
  })
}

/**
 * The dotted path of the first string or key with a lone surrogate ('' for the body itself),
 * or undefined when there is none. Iterative: a body may nest deeper than the stack recurses.
 */
export function illFormedField(value: unknown): string | undefined {
  const pending: { value: unknown; path: string }[] = [{ value, path: '' }]
  while (pending.length > 0) {
    const { value: current, path } = pending.pop()!
    if (typeof current === 'string') {
      if (LONE_SURROGATE.test(current)) return path
    } else if (current !== null && typeof current === 'object') {
      for (const [key, child] of Object.entries(current)) {
        const childPath = path ? `${path}.${key}` : key
        if (LONE_SURROGATE.test(key)) return childPath
        pending.push({ value: child, path: childPath })
      }
    }
  }
  return undefined
}
