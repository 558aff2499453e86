import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface AwsJsonReply {
  status: number
  body: unknown
}

export interface AwsJsonEndpoint {
  /** For the SDK's AWS_ENDPOINT_URL_<SERVICE>. */
  endpoint: string
  close(): Promise<void>
}

/** An error reply in the protocol's shape (`__type` names the service's exception). */
export function awsError(type: string, message: string, status = 400): AwsJsonReply {
  return { status, body: { __type: type, message } }
}

/**
 * A local HTTP endpoint speaking the AWS JSON 1.1 protocol (POST, the operation in X-Amz-Target,
 * JSON in and out) on a free port, for stand-ins of AWS services that built functions call
 * through their own SDK. A request that is not a POST gets the service's error shape.
 */
export async function startAwsJsonEndpoint(
  handle: (target: string, body: Record<string, unknown>) => AwsJsonReply
): Promise<AwsJsonEndpoint> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '')
      const reply =
        req.method === 'POST'
          ? handle(target, JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'))
          : awsError('InvalidRequestException', `unsupported ${req.method} ${target}`)
      res.writeHead(reply.status, { 'content-type': 'application/x-amz-json-1.1' })
      res.end(JSON.stringify(reply.body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve()))
      )
    },
  }
}
