/**
 * Lambda returns a synchronous invocation's result whole, and refuses one larger than 6 MB (the
 * serialized result: body, headers and JSON escaping). API Gateway then answers the client with a
 * bare 502 and nothing says why. A CSV export is the one response of this API that grows with what
 * it is asked for (docs/api-decisions.md, "CSV reports": up to 3,660 buckets × groups), so the
 * handler checks the size and answers an oversized result with the contract's error instead: a
 * 400 `invalid_request` that says how large it was and how to ask for less.
 */
import { errorBody } from '../app/http/errors.js'
import { invalid } from '../lib/errors.js'
import { logger } from '../lib/logger.js'

/** Lambda's limit on what a synchronous invocation returns (6 MB). */
export const LAMBDA_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024

/** What `hono/aws-lambda`'s `handle` resolves with (the fields this check reads and replaces). */
interface LambdaResult {
  statusCode: number
  body: string
  isBase64Encoded: boolean
  headers?: Record<string, string | string[]>
}

/**
 * `handler`, with each result that Lambda would refuse for its size replaced by a 400 in the
 * contract's error shape, keeping the request's `x-request-id`. A body short enough that even
 * escaping every character (at most 6 bytes each, `\u0000`) keeps it under the limit is not
 * measured.
 */
export function limitResponseSize<Event, Context, Result extends LambdaResult>(
  handler: (event: Event, context?: Context) => Promise<Result>,
  limitBytes = LAMBDA_RESPONSE_LIMIT_BYTES
): (event: Event, context?: Context) => Promise<Result | LambdaResult> {
  return async (event, context) => {
    const result = await handler(event, context)
    if (result.body.length * 6 < limitBytes) return result
    const bytes = Buffer.byteLength(JSON.stringify(result))
    if (bytes <= limitBytes) return result
    const header = result.headers?.['x-request-id']
    const requestId = (Array.isArray(header) ? header[0] : header) ?? null
    const megabytes = (bytes / 1024 / 1024).toFixed(1)
    const limit = (limitBytes / 1024 / 1024).toFixed(0)
    logger.warn('response too large for Lambda', { request_id: requestId, bytes, limitBytes })
    const error = invalid(
      `The response would be ${megabytes} MB, more than the ${limit} MB this deployment can return in one response. ` +
        'Ask for less at a time: a shorter time range or, for usage and cost reports, a wider bucket_width or fewer group_by fields.'
    )
    return {
      statusCode: 400,
      headers: {
        'content-type': 'application/json',
        ...(requestId ? { 'x-request-id': requestId } : {}),
      },
      body: JSON.stringify(errorBody(error, requestId)),
      isBase64Encoded: false,
    }
  }
}
