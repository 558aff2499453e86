import { awsError, startAwsJsonEndpoint } from './aws-json-endpoint.js'

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
  const server = await startAwsJsonEndpoint((target, body) => {
    if (target !== 'secretsmanager.GetSecretValue') {
      return awsError('InvalidRequestException', `unsupported ${target}`)
    }
    const SecretId = String(body.SecretId)
    requests.push(SecretId)
    const value = secrets[SecretId]
    if (value === undefined) {
      return awsError(
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret."
      )
    }
    return {
      status: 200,
      body: {
        ARN: SecretId,
        Name: SecretId.split(':').pop(),
        SecretString: value,
        VersionId: '00000000-0000-0000-0000-000000000001',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 1_767_225_600,
      },
    }
  })
  return { ...server, requests }
}
