import type { APIGatewayProxyEventV2 } from 'aws-lambda'

export interface HttpRequest {
  method: string
  /** Path with an optional query string. */
  path: string
  headers?: Record<string, string>
  /** A JSON body (sent with content-type application/json). */
  json?: unknown
}

let counter = 0

/** An API Gateway HTTP API (payload format 2.0, `$default` route and stage) event. */
export function httpApiEvent(request: HttpRequest): APIGatewayProxyEventV2 {
  const [rawPath = '/', rawQueryString = ''] = request.path.split('?')
  const headers: Record<string, string> = {
    host: 'abc123.execute-api.us-east-1.amazonaws.com',
    'user-agent': 'bundle-smoke-test',
    'x-forwarded-proto': 'https',
    ...Object.fromEntries(
      Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value])
    ),
  }
  const body = request.json === undefined ? undefined : JSON.stringify(request.json)
  if (body !== undefined) {
    headers['content-type'] ??= 'application/json'
    headers['content-length'] = String(Buffer.byteLength(body))
  }
  const now = new Date()
  counter++
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    ...(rawQueryString
      ? { queryStringParameters: Object.fromEntries(new URLSearchParams(rawQueryString)) }
      : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: headers.host!,
      domainPrefix: 'abc123',
      http: {
        method: request.method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.10',
        userAgent: headers['user-agent']!,
      },
      requestId: `req-${counter}`,
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: false,
  }
}
