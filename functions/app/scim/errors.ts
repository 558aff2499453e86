import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ZodError } from 'zod'
import { AppError } from '../../lib/errors.js'
import { logger } from '../../lib/logger.js'
import type { AppEnv } from '../http/env.js'
import { expectedFailure, STATUS_OF } from '../http/errors.js'
import { ERROR_SCHEMA, SCIM_CONTENT_TYPE } from './schemas.js'

/** The scimType values of RFC 7644 §3.12. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive'

/** A failure answered in the SCIM Error schema. */
export class ScimProblem extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly scimType: ScimType | undefined,
    message: string
  ) {
    super(message)
  }
}

export const badRequest = (scimType: ScimType, message: string) =>
  new ScimProblem(400, scimType, message)

/** `{"schemas":[…Error], "status":"404", "scimType"?, "detail"}`; status is a string. */
export function scimErrorResponse(c: Context<AppEnv>, problem: ScimProblem): Response {
  if (problem.status === 401) c.header('WWW-Authenticate', 'Bearer')
  if (problem.status === 503) c.header('Retry-After', '5')
  const body = {
    schemas: [ERROR_SCHEMA],
    status: String(problem.status),
    ...(problem.scimType ? { scimType: problem.scimType } : {}),
    detail: problem.message,
  }
  return c.body(JSON.stringify(body), problem.status, { 'content-type': SCIM_CONTENT_TYPE })
}

/** Any error on /scim/v2 as a ScimProblem: domain errors keep their status and meaning. */
export function toScimProblem(error: Error, c?: Context<AppEnv>): ScimProblem | undefined {
  if (error instanceof ScimProblem) return error
  if (c) error = expectedFailure(error, c) ?? error
  if (error instanceof AppError) {
    const status = (error.status ?? STATUS_OF[error.type]) as ContentfulStatusCode
    const scimType: ScimType | undefined =
      error.reason === 'uniqueness'
        ? 'uniqueness'
        : error.type === 'invalid_request'
          ? 'invalidValue'
          : undefined
    return new ScimProblem(status, scimType, error.message)
  }
  if (error instanceof HTTPException) {
    // Raised by Hono: a body that is not JSON (400) or of another media type (415).
    if (error.status === 400)
      return badRequest('invalidSyntax', 'The request body is not valid JSON.')
    return new ScimProblem(error.status as ContentfulStatusCode, undefined, error.message)
  }
  return undefined
}

/** The SCIM router's error handler: every failure leaves in the SCIM Error schema. */
export function handleScimError(error: Error, c: Context<AppEnv>): Response {
  const problem = toScimProblem(error, c)
  if (problem) return scimErrorResponse(c, problem)
  ;(c.get('log') ?? logger).error('unhandled error', { error })
  return scimErrorResponse(c, new ScimProblem(500, undefined, 'An internal error occurred.'))
}

/** A body or query that fails its zod schema: 400 invalidValue naming the first field. */
export function scimValidationError(error: ZodError): ScimProblem {
  const issue = error.issues[0]
  const path = issue?.path.map(String).join('.') ?? ''
  const message = issue
    ? `${path ? `Invalid '${path}': ` : ''}${issue.message}`
    : 'The request is not valid.'
  const scimType = issue?.code === 'invalid_type' && !path ? 'invalidSyntax' : 'invalidValue'
  return badRequest(scimType, message)
}
