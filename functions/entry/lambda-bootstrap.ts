/**
 * What a Lambda function builds at cold start from its environment (read through config.ts),
 * shared by the Lambda entries: the table client (TABLE_NAME) and the operator secret, fetched
 * once from Secrets Manager (OPERATOR_SECRET_ARN). The secret's value never passes through an
 * environment variable.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { type Env, lambdaConfig, OPERATOR_KEY_PATTERN, operatorSecretArn } from '../config.js'
import { SECRET_PREFIXES } from '../lib/secrets.js'
import { createDocumentClient } from '../store/client.js'
import { Db } from '../store/db.js'

/**
 * The single table named by TABLE_NAME. The SDK finds region, credentials and (for a local run
 * of the built function) AWS_ENDPOINT_URL_DYNAMODB in the environment itself.
 */
export function dbFromEnvironment(env: Env): Db {
  return new Db(createDocumentClient(), lambdaConfig(env).tableName)
}

/**
 * The operator key from the secret's value. The stack generates a 48-character alphanumeric
 * value (Secrets Manager cannot add a prefix), so the key is `op_` followed by it; a value that
 * already starts with `op_` (one an operator put by hand) is the key itself.
 */
export function operatorKeyFromSecretValue(value: string): string {
  const trimmed = value.trim()
  const key = trimmed.startsWith(SECRET_PREFIXES.operator)
    ? trimmed
    : `${SECRET_PREFIXES.operator}${trimmed}`
  if (!OPERATOR_KEY_PATTERN.test(key)) {
    throw new Error(
      'The operator secret must hold at least 16 characters of [A-Za-z0-9_-] (optionally starting with op_)'
    )
  }
  return key
}

/** Reads the operator secret named by OPERATOR_SECRET_ARN (one GetSecretValue per cold start). */
export async function readOperatorKey(env: Env): Promise<string> {
  const secretId = operatorSecretArn(env)
  const client = new SecretsManagerClient({})
  try {
    const answer = await client.send(new GetSecretValueCommand({ SecretId: secretId }))
    if (answer.SecretString === undefined) {
      throw new Error('the secret has no string value')
    }
    return operatorKeyFromSecretValue(answer.SecretString)
  } catch (error) {
    throw new Error(
      `Cannot read the operator secret ${secretId}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error }
    )
  } finally {
    client.destroy()
  }
}
