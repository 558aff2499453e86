import type { DecisionOptions } from './authz/decisions.js'
import { DEFAULT_TABLE_NAME } from './store/table-definition.js'
import type { WebhookUrlPolicy } from './webhooks/url.js'

/**
 * The one reader of the environment (docs/configuration.md). Each entry point in functions/entry/
 * passes `process.env` to the reader for its kind of process and hands the typed result down;
 * nothing below the entry points reads the environment. (The AWS SDK and the Powertools logger
 * read their own AWS_* and POWERTOOLS_* variables themselves.)
 */
export type Env = Readonly<Record<string, string | undefined>>

export const OPERATOR_KEY_PATTERN = /^op_[A-Za-z0-9_-]{16,}$/

/** `npm start` (functions/entry/local-server.ts); contract: "Running it". */
export interface LocalServerConfig {
  port: number
  host: string
  dataDir: string
  /** A DynamoDB(-compatible) endpoint to use instead of starting the embedded store. */
  dynamodbEndpoint: string | undefined
  /**
   * Sign requests to the store with the SDK's own credentials (AWS_ACCESS_KEY_ID is set, e.g.
   * for a real DynamoDB endpoint) rather than the placeholders a local server accepts.
   */
  storeAwsCredentials: boolean
  /** The region requests to the store are signed for. */
  storeRegion: string
  tableName: string
  operatorKey: string | undefined
  aggregationIntervalSeconds: number
  decisions: Partial<DecisionOptions>
  /** How often the local deliverer sends due webhook attempts; 0 = never. */
  webhookDeliveryIntervalSeconds: number
  /** WEBHOOK_ALLOW_LOCAL_HTTP (default true locally): http://localhost endpoints accepted. */
  webhookUrls: WebhookUrlPolicy
}

export function localServerConfig(env: Env): LocalServerConfig {
  const port = Number(env.PORT ?? 3000)
  const interval = Number(env.AGGREGATION_INTERVAL_SECONDS ?? 60)
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`PORT is not a port: ${env.PORT}`)
  if (!Number.isFinite(interval) || interval < 0) {
    throw new Error(
      `AGGREGATION_INTERVAL_SECONDS must be a number of seconds ≥ 0: ${env.AGGREGATION_INTERVAL_SECONDS}`
    )
  }
  return {
    port,
    // Local only by default: the demo organization's keys are printed to whoever starts it.
    host: env.HOST || '127.0.0.1',
    dataDir: env.DATA_DIR ?? '.data',
    dynamodbEndpoint: env.DYNAMODB_ENDPOINT,
    storeAwsCredentials: Boolean(env.AWS_ACCESS_KEY_ID),
    storeRegion: env.AWS_REGION ?? 'us-east-1',
    tableName: env.TABLE_NAME ?? DEFAULT_TABLE_NAME,
    operatorKey: env.OPERATOR_KEY,
    aggregationIntervalSeconds: interval,
    decisions: decisionOptions(env),
    webhookDeliveryIntervalSeconds: seconds(env, 'WEBHOOK_DELIVERY_INTERVAL_SECONDS', 5),
    webhookUrls: { allowLocalHttp: flag(env, 'WEBHOOK_ALLOW_LOCAL_HTTP', true) },
  }
}

function seconds(env: Env, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`${name} must be a number of seconds ≥ 0: ${raw}`)
  }
  return value
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (raw === 'true' || raw === '1') return true
  if (raw === 'false' || raw === '0') return false
  throw new Error(`${name} must be true or false: ${raw}`)
}

/**
 * What the environment changes of the decision path's defaults (authz/decisions.ts), in the API
 * function and the local server: DECISION_REVISION_CHECK_MS, the revision check interval.
 */
export function decisionOptions(env: Env): Partial<DecisionOptions> {
  const raw = env.DECISION_REVISION_CHECK_MS
  if (raw === undefined || raw === '') return {}
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`DECISION_REVISION_CHECK_MS must be a number of milliseconds ≥ 0: ${raw}`)
  }
  return { revisionCheckMs: value }
}

function required(env: Env, name: string): string {
  const value = env[name]
  if (!value) throw new Error(`${name} must be set in the function's environment`)
  return value
}

/**
 * What both Lambda functions are given by the stack (infra/api.ts, infra/aggregation.ts). The
 * SDK finds region, credentials and (for a local run of the built function) the endpoints
 * AWS_ENDPOINT_URL_* in the environment itself.
 */
export interface LambdaConfig {
  /** TABLE_NAME: the single table. */
  tableName: string
  /** ALERT_BUS_NAME: the EventBridge bus budget alerts go to; none when unset. */
  alertBusName: string | undefined
  /**
   * WEBHOOK_ALLOW_LOCAL_HTTP: never set by the stack, so endpoints must be https (and not
   * loopback or private addresses); only a local run of the built function turns it on.
   */
  webhookUrls: WebhookUrlPolicy
}

export function lambdaConfig(env: Env): LambdaConfig {
  return {
    tableName: required(env, 'TABLE_NAME'),
    alertBusName: env.ALERT_BUS_NAME || undefined,
    webhookUrls: { allowLocalHttp: flag(env, 'WEBHOOK_ALLOW_LOCAL_HTTP', false) },
  }
}

/**
 * OPERATOR_SECRET_ARN: the Secrets Manager secret holding the operator key (API function
 * only). The key itself never passes through an environment variable.
 */
export function operatorSecretArn(env: Env): string {
  return required(env, 'OPERATOR_SECRET_ARN')
}

/**
 * Where the Cedar schema and policies live, if not in the repository's `policies/`: the
 * Lambda bundle copies them next to the code and sets POLICY_DIR. Read by authz/policy-files.ts
 * when the engine loads at import, before an entry point could pass it (docs/configuration.md).
 */
export function policyDirectoryOverride(env: Env = process.env): string | undefined {
  return env.POLICY_DIR || undefined
}
