/**
 * What the contract says every error response looks like, as checks that return the ways a
 * response falls short (empty = conforms), so property tests can report them all at once.
 */

/** Error types and the statuses each may carry (v1.1: a 415 is typed invalid_request). */
export const ERROR_TYPE_STATUSES: Record<string, number[]> = {
  invalid_request: [400, 415, 422],
  authentication: [401],
  permission: [403],
  not_found: [404],
  conflict: [409],
  precondition_failed: [412],
  payload_too_large: [413],
  rate_limit: [429],
  internal: [500],
  unavailable: [503],
}

/** RFC 7644 §3.12 scimType values. */
const SCIM_TYPES = [
  'invalidFilter',
  'tooMany',
  'uniqueness',
  'mutability',
  'invalidSyntax',
  'invalidPath',
  'noTarget',
  'invalidValue',
  'invalidVers',
  'sensitive',
]
const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error'

export interface SeenResponse {
  status: number
  headers: Headers
  text: string
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** `{"error":{"type","message","param","request_id"}}`, type and status agreeing. */
export function contractErrorProblems(res: SeenResponse): string[] {
  const problems: string[] = []
  const requestId = res.headers.get('x-request-id')
  if (!requestId) problems.push('no x-request-id header')
  if (!/^application\/json\b/.test(res.headers.get('content-type') ?? '')) {
    problems.push(`content-type ${res.headers.get('content-type')} is not application/json`)
  }
  const body = parse(res.text) as { error?: Record<string, unknown> } | undefined
  const error = body?.error
  if (!body || typeof error !== 'object' || error === null) {
    return [...problems, `body is not {"error":{…}}: ${res.text.slice(0, 200)}`]
  }
  const allowed = ERROR_TYPE_STATUSES[String(error.type)]
  if (!allowed) problems.push(`error.type ${JSON.stringify(error.type)} is not a contract type`)
  else if (!allowed.includes(res.status)) {
    problems.push(`status ${res.status} does not match error.type ${error.type}`)
  }
  if (typeof error.message !== 'string' || error.message === '') problems.push('no error.message')
  if (!('param' in error) || (error.param !== null && typeof error.param !== 'string')) {
    problems.push('error.param is neither a string nor null')
  }
  if (typeof error.request_id !== 'string' || error.request_id !== requestId) {
    problems.push('error.request_id is not the x-request-id')
  }
  if (res.status === 503 && !res.headers.get('retry-after'))
    problems.push('503 without Retry-After')
  return problems
}

/** The SCIM Error schema (RFC 7644 §3.12) in application/scim+json. */
export function scimErrorProblems(res: SeenResponse): string[] {
  const problems: string[] = []
  if (!res.headers.get('x-request-id')) problems.push('no x-request-id header')
  if (!/^application\/scim\+json\b/.test(res.headers.get('content-type') ?? '')) {
    problems.push(`content-type ${res.headers.get('content-type')} is not application/scim+json`)
  }
  const body = parse(res.text) as Record<string, unknown> | undefined
  if (!body || typeof body !== 'object') {
    return [...problems, `body is not JSON: ${res.text.slice(0, 200)}`]
  }
  if (JSON.stringify(body.schemas) !== JSON.stringify([SCIM_ERROR])) {
    problems.push(`schemas is not [Error]: ${JSON.stringify(body.schemas)}`)
  }
  if (body.status !== String(res.status)) {
    problems.push(`status ${JSON.stringify(body.status)} is not "${res.status}"`)
  }
  if (typeof body.detail !== 'string') problems.push('no detail')
  if (body.scimType !== undefined && !SCIM_TYPES.includes(String(body.scimType))) {
    problems.push(`scimType ${JSON.stringify(body.scimType)} is not an RFC 7644 value`)
  }
  return problems
}
