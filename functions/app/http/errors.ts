import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ZodError } from 'zod'
import { AppError, type ErrorType, unavailable } from '../../lib/errors.js'
import { logger } from '../../lib/logger.js'
import { StoreUnavailableError } from '../../store/db.js'
import type { AppEnv } from './env.js'

export const STATUS_OF: Record<ErrorType, ContentfulStatusCode> = {
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  not_found: 404,
  conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  rate_limit: 429,
  internal: 500,
  unavailable: 503,
}

const TYPE_OF_STATUS: Record<number, ErrorType> = Object.fromEntries(
  Object.entries(STATUS_OF).map(([type, status]) => [status, type as ErrorType])
)

/** The contract's error body: `{error:{type,message,param,request_id}}`. */
export function errorBody(error: AppError, requestId: string | null) {
  return {
    error: {
      type: error.type,
      message: error.message,
      param: error.param,
      request_id: requestId,
      ...error.details,
    },
  }
}

export function errorResponse(c: Context<AppEnv>, error: AppError): Response {
  const status = (error.status ?? STATUS_OF[error.type]) as ContentfulStatusCode
  // A handler that failed after setting its success headers (the resource's ETag, before a
  // later step threw) must not hand them out with the error.
  c.header('ETag', undefined)
  if (error.retryAfterSeconds !== undefined)
    c.header('Retry-After', String(error.retryAfterSeconds))
  else if (error.type === 'unavailable') c.header('Retry-After', '5')
  if (error.type === 'authentication') c.header('WWW-Authenticate', 'Bearer')
  return c.json(errorBody(error, c.get('requestId') ?? null), status)
}

/**
 * Failures that are not bugs, as the AppError they answer: the store throttling or unavailable
 * → 503 `unavailable` with `Retry-After` (the request may be retried as a whole: every
 * multi-item change is ordered and idempotent, docs/access-patterns.md). Used by both handlers.
 */
export function expectedFailure(error: Error, c: Context<AppEnv>): AppError | undefined {
  if (error instanceof AppError) return error
  if (error instanceof StoreUnavailableError) {
    ;(c.get('log') ?? logger).warn('store unavailable', { error })
    return unavailable('The data store is busy or unavailable; retry after Retry-After seconds.')
  }
  return undefined
}

/** The single error handler: every failure leaves through here in the contract's shape. */
export function handleError(error: Error, c: Context<AppEnv>): Response {
  const expected = expectedFailure(error, c)
  if (expected) return errorResponse(c, expected)
  if (error instanceof HTTPException) {
    // Raised by Hono itself, e.g. the JSON validator on a body that is not JSON.
    const type = TYPE_OF_STATUS[error.status] ?? 'invalid_request'
    if (error.status === 415) {
      // The route's body is JSON and the request said otherwise (or sent a body untyped).
      return errorResponse(
        c,
        new AppError(
          'invalid_request',
          'Send the request body as JSON, with Content-Type: application/json.',
          'Content-Type',
          415
        )
      )
    }
    const message =
      error.status === 400 && /json/i.test(error.message)
        ? 'The request body is not valid JSON.'
        : error.message || 'The request could not be processed.'
    return errorResponse(c, new AppError(type, message, null, error.status))
  }
  ;(c.get('log') ?? logger).error('unhandled error', { error })
  return errorResponse(c, new AppError('internal', 'An internal error occurred.'))
}

/**
 * Turns a zod validation failure into a 400 naming the first offending field. `queries` (every
 * value of each query parameter) tells a parameter given twice from one of the wrong type.
 */
export function validationError(
  error: ZodError,
  target: string,
  queries?: Record<string, string[]>
): AppError {
  const issue = error.issues[0]
  const path = issue?.path.map(String).join('.') ?? ''
  const name = issue?.path.length === 1 ? String(issue.path[0]) : undefined
  if (target === 'query' && name !== undefined && (queries?.[name]?.length ?? 0) > 1) {
    return new AppError('invalid_request', `'${name}' may be given only once.`, name)
  }
  const param = path || (target === 'json' ? null : target)
  const message = issue
    ? `${path ? `Invalid '${path}': ` : ''}${issue.message}`
    : 'The request is not valid.'
  return new AppError('invalid_request', message, param)
}
