import type { Decision, DecisionError } from './engine.js'

/** The consumption actions (the schema's `consumption` group): what rate limits count. */
export const CONSUMPTION_ACTIONS: ReadonlySet<string> = new Set([
  'use_chat',
  'use_studio',
  'use_code',
  'invoke_model',
])

/** Why a rate limit denied a decision (`rate_limit` in the decision). */
export interface RateLimitHit {
  limit_type: 'requests_per_minute' | 'tokens_per_minute' | 'tokens_per_month'
  limit: number
  remaining: 0
  resets_at: string
  retry_after_ms: number
  /** The level whose window is used up, and the model entry (`*` or a model). */
  scope: 'workspace' | 'organization'
  model: string
}

/** What a consumption decision counts. */
export interface Consumption {
  organizationId: string
  workspaceId: string
  model: string | null
  estimatedTokens: number
  now: Date
}

/**
 * The rate limiter as the decision path sees it (docs/rate-limits.md). `plan` reads a
 * workspace's limits; the decision service keeps its answer with the organization's snapshot,
 * so it is read once per organization revision. `admit` counts one allowed consumption
 * decision against the plan's windows, or says which window is used up (nothing counted then).
 */
export interface ConsumptionGate<P = unknown> {
  plan(organizationId: string, workspaceId: string): Promise<P>
  admit(plan: P, consumption: Consumption): Promise<RateLimitHit | null>
}

/** A decision, with the rate limit that denied it. */
export type GatedDecision = Decision & { rate_limit?: RateLimitHit }

/** `context.estimated_tokens`: absent = 0; anything but a non-negative safe integer is refused. */
export function estimatedTokensOf(
  context: Record<string, unknown> | undefined
): number | DecisionError {
  const value = context?.estimated_tokens
  if (value === undefined) return 0
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value
  return {
    code: 'invalid_request',
    message: 'context.estimated_tokens must be a non-negative integer.',
  }
}

/** The caller may not set what only the server sets. */
export function serverOnlyContextError(
  context: Record<string, unknown> | undefined
): DecisionError | null {
  if (context && 'rate_limited' in context) {
    return {
      code: 'invalid_request',
      message: 'context.rate_limited is set by the server; leave it out.',
    }
  }
  return null
}

/**
 * After Cedar allowed a consumption decision: count it, and when a window is used up decide
 * again with `context.rate_limited`, so the deny is Cedar's and names `forbid-rate-limit` (and a
 * custom policy may see the flag too). Other actions and denied decisions are never counted.
 */
export async function gateConsumption(
  gate: ConsumptionGate,
  plan: () => Promise<unknown>,
  action: string,
  allowed: Decision,
  consumption: Omit<Consumption, 'estimatedTokens'> & {
    context: Record<string, unknown> | undefined
  },
  /** The same request decided with `rate_limited` in its context (forbid-rate-limit). */
  denyRateLimited: () => Promise<Decision>
): Promise<GatedDecision> {
  if (allowed.decision !== 'allow' || !CONSUMPTION_ACTIONS.has(action)) return allowed
  const estimatedTokens = estimatedTokensOf(consumption.context)
  if (typeof estimatedTokens !== 'number') return allowed
  const hit = await gate.admit(await plan(), { ...consumption, estimatedTokens })
  if (!hit) return allowed
  return { ...(await denyRateLimited()), rate_limit: hit }
}
