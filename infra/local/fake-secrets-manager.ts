import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface FakeSecretsManager {
  /** For AWS_ENDPOINT_URL_SECRETS_MANAGER. */
  endpoint: string
  /** SecretId of every GetSecretValue received, in order. */
  requests: string[]
  close(): Promise<void>
}

/**
 * A local stand-in for the Secrets Manager API (JSON 1.1 protocol, GetSecretValue only), so the
 * functions' real SDK call can be exercised without AWS. Unknown secrets get the service's
 * ResourceNotFoundException.
 */
export async function startFakeSecretsManager(
  secrets: Record<string, string>
): Promise<FakeSecretsManager> {
  const requests: string[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' })
        res.end(JSON.stringify(body))
      }
      const target = req.headers['x-amz-target']
      if (req.method !== 'POST' || target !== 'secretsmanager.GetSecretValue') {
        return reply(400, { __type: 'InvalidRequestException', message: `unsupported ${target}` })
      }
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        SecretId: string
      }
      requests.push(SecretId)
      const value = secrets[SecretId]
      if (value === undefined) {
        return reply(400, {
          __type: 'ResourceNotFoundException',
          message: "Secrets Manager can't find the specified secret.",
        })
      }
      reply(200, {
        ARN: SecretId,
        Name: SecretId.split(':').pop(),
        SecretString: value,
        VersionId: '00000000-0000-0000-0000-000000000001',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 1_767_225_600,
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve()))
      )
    },
  }
}
