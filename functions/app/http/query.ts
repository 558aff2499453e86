import type { z } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import { invalid } from '../../lib/errors.js'
import type { AppEnv } from './env.js'

/**
 * Strict query strings, derived from a route's declared zod query schema (contract v1.1 "Strict
 * requests"): a parameter the route does not declare is a 400 naming it, never silently ignored
 * (an ignored filter answers with the whole organization's figures). Array parameters also
 * accept the spellings clients send — repeated, comma-separated, bracketed (`name[]`, axios) and
 * the plural name (`names`, `names[]`, Anthropic's Admin API) — rewritten to the canonical name
 * before validation, so the handler, the cursor binding and the validator see one spelling.
 */

interface QueryShape {
  /** Every declared parameter name. */
  names: string[]
  /** Each accepted spelling → its canonical array parameter. */
  aliases: Map<string, string>
}

type AnySchema = z.ZodType & { _zod: { def: Record<string, unknown> & { type: string } } }

/** Whether a parameter's schema accepts a list (so it may be repeated or comma-separated). */
function acceptsArray(schema: AnySchema): boolean {
  const def = schema._zod.def
  switch (def.type) {
    case 'array':
      return true
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return acceptsArray(def.innerType as AnySchema)
    case 'pipe':
      return acceptsArray(def.in as AnySchema)
    case 'union':
      return (def.options as AnySchema[]).some(acceptsArray)
    default:
      return false
  }
}

export function queryShape(schema: z.ZodObject | undefined): QueryShape {
  const shape = (schema?.shape ?? {}) as Record<string, AnySchema>
  const names = Object.keys(shape)
  const aliases = new Map<string, string>()
  for (const name of names) {
    if (!acceptsArray(shape[name]!)) continue
    for (const spelling of [`${name}[]`, `${name}s`, `${name}s[]`]) {
      if (!(spelling in shape)) aliases.set(spelling, name)
    }
  }
  return { names, aliases }
}

/**
 * The middleware: unknown names → 400 `invalid_request` (param = the name as sent); alias
 * spellings and comma lists of array parameters → the canonical name repeated once per value.
 * Scalars are left as sent, so one given twice is still "may be given only once".
 */
export function strictQuery(
  schema: z.ZodObject | undefined,
  route: string
): MiddlewareHandler<AppEnv> {
  const { names, aliases } = queryShape(schema)
  const known = new Set(names)
  return async (c, next) => {
    const url = new URL(c.req.url)
    if (url.search === '') return next()
    const out = new URLSearchParams()
    let changed = false
    for (const [name, value] of url.searchParams) {
      const canonical = known.has(name) ? name : aliases.get(name)
      if (canonical === undefined) {
        const accepted = names.length > 0 ? `accepted: ${names.join(', ')}` : 'it takes none'
        throw invalid(`Unknown query parameter '${name}' for ${route}; ${accepted}.`, name)
      }
      if (canonical !== name) changed = true
      if (canonical === name && !aliases.has(`${name}[]`)) {
        out.append(name, value)
        continue
      }
      // An array parameter: one entry per value, so `a,b` and `a&b` bind a cursor alike.
      const parts = value
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part.length > 0)
      if (parts.length !== 1 || parts[0] !== value) changed = true
      for (const part of parts.length > 0 ? parts : [value]) out.append(canonical, part)
    }
    if (changed) {
      url.search = out.toString()
      const raw = c.req.raw
      const hasBody = raw.body !== null && raw.method !== 'GET' && raw.method !== 'HEAD'
      c.req.raw = new Request(url, {
        method: raw.method,
        headers: raw.headers,
        signal: raw.signal,
        ...(hasBody ? { body: raw.body, duplex: 'half' } : {}),
      } as RequestInit)
    }
    await next()
  }
}
