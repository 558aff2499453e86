import { type OpenAPIHono, z } from '@hono/zod-openapi'

/** Shared OpenAPI building blocks; every route's schemas are zod, the single source. */

export const ErrorSchema = z
  .object({
    error: z.object({
      type: z.enum([
        'invalid_request',
        'authentication',
        'permission',
        'not_found',
        'conflict',
        'precondition_failed',
        'payload_too_large',
        'rate_limit',
        'internal',
        'unavailable',
      ]),
      message: z.string(),
      param: z.string().nullable(),
      request_id: z.string().nullable(),
    }),
  })
  .openapi('Error')

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request',
  401: 'Missing, unknown, revoked or expired credential',
  403: 'The credential may not do this',
  404: 'Not found (also: a resource of another organization)',
  409: 'Conflict',
  412: 'If-Match does not match the current version',
  413: 'Request body over 1 MiB',
  415: 'Content-Type is not JSON (type invalid_request)',
}

export function errorResponses<S extends number>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: ERROR_DESCRIPTIONS[status] ?? 'Error',
        content: { 'application/json': { schema: ErrorSchema } },
      },
    ])
  ) as Record<
    S,
    { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } }
  >
}

/** The errors every authenticated route can return. */
export const AUTH_ERRORS = [400, 401, 403] as const

export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } }
}

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { content: { 'application/json': { schema } }, required: true }
}

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ description: '1..100' }),
  after: z.string().min(1).optional().openapi({ description: 'next_cursor of the previous page' }),
})

export function listOf<T extends z.ZodType>(item: T) {
  return z.object({
    object: z.literal('list'),
    data: z.array(item),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  })
}

export const IdParam = z.object({ id: z.string().min(1).max(100) })

export const Timestamp = z.iso
  .datetime({ offset: true })
  .openapi({ example: '2026-01-31T12:00:00Z' })

export const IdempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .optional()
    .openapi({ description: 'Replays the first response for the same key and body within 24 h' }),
})

export const IfMatchHeader = z.object({
  'if-match': z.string().optional().openapi({
    description:
      '* or ETags from a previous read (RFC 9110); a well-formed tag that does not match → 412, a malformed header → 400',
  }),
})

export const BEARER = [{ bearer: [] }]

/**
 * Adds the 415 answer to every operation that takes a JSON body: the validator refuses any other
 * Content-Type before the route runs, so no route declares it itself.
 */
export function documentUnsupportedMediaType(registry: OpenAPIHono['openAPIRegistry']): void {
  const unsupported = errorResponses(415)[415]
  for (const definition of registry.definitions) {
    if (definition.type !== 'route' || !definition.route.request?.body) continue
    definition.route.responses[415] ??= unsupported
  }
}
