import { DEFAULT_TABLE_NAME } from './store/table-definition.js'

/** Settings read from the environment (contract: "Running it"). */
export function readConfig(env: NodeJS.ProcessEnv = process.env) {
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
    tableName: env.TABLE_NAME ?? DEFAULT_TABLE_NAME,
    operatorKey: env.OPERATOR_KEY,
    aggregationIntervalSeconds: interval,
  }
}

/**
 * The decision path's settings (authz/fact-loader.ts `DecisionOptions`); the rest keep their
 * defaults. DECISION_REVISION_CHECK_MS overrides the revision check interval.
 */
export function decisionOptions(env: NodeJS.ProcessEnv = process.env): {
  revisionCheckMs?: number
} {
  const raw = env.DECISION_REVISION_CHECK_MS
  if (raw === undefined || raw === '') return {}
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`DECISION_REVISION_CHECK_MS must be a number of milliseconds ≥ 0: ${raw}`)
  }
  return { revisionCheckMs: value }
}

/**
 * Where the Cedar schema and policies live, if not in the repository's `policies/`: the
 * Lambda bundle copies them next to the code and sets POLICY_DIR.
 */
export function policyDirectoryOverride(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.POLICY_DIR || undefined
}

export const OPERATOR_KEY_PATTERN = /^op_[A-Za-z0-9_-]{16,}$/
