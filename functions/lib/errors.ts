/** The error types of the contract; the HTTP layer maps each to its status code. */
export type ErrorType =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'conflict'
  | 'precondition_failed'
  | 'payload_too_large'
  | 'rate_limit'
  | 'internal'
  | 'unavailable'

/**
 * An expected failure with a message meant for the API caller. Thrown by any layer; the one
 * error handler turns it into the contract's error body. Anything else becomes a 500.
 */
export class AppError extends Error {
  /** More fields for the error body (e.g. a policy's Cedar diagnostics). */
  details?: Record<string, unknown>
  /** Sent as `Retry-After` (seconds): when trying again may succeed. */
  retryAfterSeconds?: number

  constructor(
    readonly type: ErrorType,
    message: string,
    readonly param: string | null = null,
    /** Overrides the default status of `type` (e.g. 422 instead of 400). */
    readonly status?: number,
    /** Why a conflict happened, when a caller may act on it (SCIM answers `uniqueness`). */
    readonly reason?: 'uniqueness'
  ) {
    super(message)
  }
}

export const invalid = (message: string, param: string | null = null) =>
  new AppError('invalid_request', message, param)
export const notFound = (what: string, id: string, param: string | null = null) =>
  new AppError('not_found', `No ${what} with id '${id}'.`, param)
export const conflict = (message: string, param: string | null = null) =>
  new AppError('conflict', message, param)
/** A 409 because a value that must be unique (an email, a group name) is taken. */
export const duplicate = (message: string, param: string | null = null) =>
  new AppError('conflict', message, param, undefined, 'uniqueness')
export const preconditionFailed = (message: string) =>
  new AppError('precondition_failed', message, 'If-Match')
/** The expected version of an If-Match that names only ETags this API never issues. */
export const NO_SUCH_VERSION = -1
/** 412: the resource is not at the version If-Match named. */
export const staleVersion = (what: string, current: number, expected: number) =>
  preconditionFailed(
    expected === NO_SUCH_VERSION
      ? `The ${what} is at version ${current}; If-Match names none of its ETags.`
      : `The ${what} is at version ${current}, not ${expected}.`
  )
export const forbidden = (message: string) => new AppError('permission', message)
export const unauthenticated = (message: string) => new AppError('authentication', message)
/** A 409 for work that another caller holds for a while; `Retry-After` says how long. */
export function busy(
  message: string,
  retryAfterSeconds: number,
  param: string | null = null
): AppError {
  const error = conflict(message, param)
  error.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds))
  return error
}
/** A 503: the service (e.g. its store) cannot answer now; try again after a few seconds. */
export function unavailable(message: string, retryAfterSeconds = 5): AppError {
  const error = new AppError('unavailable', message)
  error.retryAfterSeconds = retryAfterSeconds
  return error
}
