import type { DecisionService, ProductRequest } from '../authz/decisions.js'
import { type Decision, isBuiltinPolicyId, type PolicyInfo } from '../authz/engine.js'
import { AppError, invalid } from '../lib/errors.js'
import type { DecisionRecord } from '../model/index.js'
import type { Db } from '../store/db.js'
import { decisionLog } from '../store/decision-log.js'
import { customPolicies } from '../store/policies.js'
import { firstDecisionIdAt } from './decision-log.js'
import { checkPolicy, MAX_CUSTOM_POLICIES, POLICY_ID_PATTERN } from './policies.js'

/** The most recorded decisions one simulation replays (contract v1.1). */
export const MAX_REPLAYED = 100_000
/**
 * At most this many flipped decisions are listed (≈ 2.5 MB of JSON, under Lambda's 6 MB response
 * limit); `summary` and `changed_count` still count every one, and `changed_truncated` says so.
 */
export const MAX_CHANGED_LISTED = 10_000

export type PolicyChange =
  | { id: string; cedar: string; description?: string | undefined }
  | { id: string; delete: true }

export interface SimulationInput {
  changes: readonly PolicyChange[]
  /** Replay decisions made at or after this time (default: every one still kept). */
  after_time?: Date | undefined
  /** Replay at most this many, newest first (default and maximum 100,000). */
  limit?: number | undefined
}

type Verdict = Decision['decision']

export interface SimulationReport {
  object: 'policy_simulation'
  replayed: number
  unchanged: number
  changed: {
    decision_id: string
    before: Verdict
    after: Verdict
    determining_policies: Decision['determining_policies']
  }[]
  /** Every flipped decision, listed or not. */
  changed_count: number
  /** True when `changed` lists only the first MAX_CHANGED_LISTED of them. */
  changed_truncated: boolean
  summary: { allow_to_deny: number; deny_to_allow: number }
}

/**
 * The organization's custom policies with `changes` applied, each new text checked as strictly
 * as `PUT /v1/policies/{id}` checks it; a change that would be refused → 400 naming it.
 */
/**
 * Which way the changes can move a verdict. A Cedar decision is allow iff some permit holds
 * and no forbid holds, each policy evaluated on its own: adding a forbid or removing a permit
 * can only turn allow into deny (`restrictive`), adding a permit or removing a forbid only deny
 * into allow (`permissive`); a replaced text is a removal and an addition.
 */
type Direction = 'restrictive' | 'permissive' | 'mixed' | 'none'

function directionOf(moves: ReadonlySet<'restrictive' | 'permissive'>): Direction {
  if (moves.size === 0) return 'none'
  if (moves.size === 2) return 'mixed'
  return moves.has('restrictive') ? 'restrictive' : 'permissive'
}

async function proposedPolicies(
  db: Db,
  organizationId: string,
  changes: readonly PolicyChange[]
): Promise<{ policies: PolicyInfo[]; direction: Direction }> {
  const current = await customPolicies.all(db, organizationId)
  const proposed = new Map<string, PolicyInfo>(
    current.map((p) => [
      p.id,
      { id: p.id, description: p.description, effect: p.effect, cedar: p.cedar },
    ])
  )
  const seen = new Set<string>()
  const moves = new Set<'restrictive' | 'permissive'>()
  const removed = (effect: PolicyInfo['effect']) =>
    moves.add(effect === 'forbid' ? 'permissive' : 'restrictive')
  const added = (effect: PolicyInfo['effect']) =>
    moves.add(effect === 'forbid' ? 'restrictive' : 'permissive')
  changes.forEach((change, index) => {
    const param = `changes.${index}`
    if (!POLICY_ID_PATTERN.test(change.id)) {
      throw invalid('Policy ids are 1 to 64 characters of a-z, 0-9 and "-".', `${param}.id`)
    }
    if (seen.has(change.id)) {
      throw invalid(`Policy '${change.id}' is changed twice; change each once.`, `${param}.id`)
    }
    seen.add(change.id)
    if (isBuiltinPolicyId(change.id)) {
      throw invalid(
        `'${change.id}' is a built-in policy and cannot be changed; add a custom forbid to restrict what it allows.`,
        `${param}.id`
      )
    }
    const old = proposed.get(change.id)
    if ('delete' in change) {
      if (!old) {
        throw invalid(`There is no custom policy '${change.id}' to delete.`, `${param}.id`)
      }
      proposed.delete(change.id)
      removed(old.effect)
      return
    }
    try {
      const { policy } = checkPolicy(change.id, change)
      proposed.set(change.id, policy)
      if (old?.cedar !== policy.cedar) {
        if (old) removed(old.effect)
        added(policy.effect)
      }
    } catch (error) {
      if (!(error instanceof AppError)) throw error
      const located = new AppError(error.type, error.message, `${param}.cedar`)
      if (error.details) located.details = error.details
      throw located
    }
  })
  if (proposed.size > MAX_CUSTOM_POLICIES) {
    throw invalid(
      `An organization may have at most ${MAX_CUSTOM_POLICIES} custom policies; the changes leave ${proposed.size}.`,
      'changes'
    )
  }
  // In id order, as the live path reads them once saved: Cedar then reports the same
  // determining policies in the same order.
  return {
    policies: [...proposed.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    direction: directionOf(moves),
  }
}

/** The request a record was decided for, or null for a malformed batch item (denied as such). */
function replayable(record: DecisionRecord): ProductRequest | null {
  const { principal, action, resource, context } = record.request
  if (!principal || !action || !resource) return null
  if (principal.type !== 'Member' && principal.type !== 'ApiKey') return null
  if (resource.type !== 'Workspace') return null
  return {
    principal: { type: principal.type, id: principal.id },
    action,
    resource: { type: 'Workspace', id: resource.id },
    ...(context ? { context } : {}),
  }
}

/**
 * Replays the organization's recorded decisions, newest first, with the proposed policy set
 * over today's facts (docs/decision-log.md, "Simulation"). Each request is decided as it was
 * made — its context, at its time — against the current snapshot twice: with the current
 * policies (`before`) and with the proposed ones (`after`); a decision that flips is reported.
 * Cedar is deterministic, so when a record was made at the current revision (the same facts
 * and policies) its recorded result is `before`; and when the changes can only restrict (or
 * only widen) access, a verdict they cannot move is not evaluated again (see Direction).
 * Changes nothing.
 */
export async function simulatePolicies(
  db: Db,
  decisions: DecisionService,
  organizationId: string,
  input: SimulationInput,
  now: Date,
  maxListed = MAX_CHANGED_LISTED
): Promise<SimulationReport> {
  const { policies, direction } = await proposedPolicies(db, organizationId, input.changes)
  const replay = await decisions.openReplay(organizationId, policies)
  /** A verdict the changes cannot move (see Direction): `after` is `before`, no Cedar call. */
  const fixed = (verdict: Verdict) =>
    direction === 'none' ||
    (direction === 'restrictive' && verdict === 'deny') ||
    (direction === 'permissive' && verdict === 'allow')
  const report: SimulationReport = {
    object: 'policy_simulation',
    replayed: 0,
    unchanged: 0,
    changed: [],
    changed_count: 0,
    changed_truncated: false,
    summary: { allow_to_deny: 0, deny_to_allow: 0 },
  }
  try {
    await decisionLog.scan(
      db,
      organizationId,
      input.after_time ? firstDecisionIdAt(input.after_time) : undefined,
      Math.min(input.limit ?? MAX_REPLAYED, MAX_REPLAYED),
      now,
      async (records) => {
        // A page at once: the facts its requests need are read together, in one batched read.
        const outcomes = await Promise.all(
          records.map(async (record) => {
            const request = replayable(record)
            if (!request) return null
            const at = new Date(record.decided_at)
            // Same revision, and a result Cedar alone gave (not a limit applied beside it).
            const current =
              record.revision.revision === replay.revision.revision &&
              record.determining_policies.every((p) => replay.isCurrentPolicy(p.policy_id))
            const before = current ? record.decision : (await replay.before(request, at)).decision
            if (fixed(before)) return null
            return { before, after: await replay.after(request, at) }
          })
        )
        records.forEach((record, i) => {
          report.replayed++
          const outcome = outcomes[i]
          if (!outcome || outcome.before === outcome.after.decision) {
            report.unchanged++
            return
          }
          report.changed_count++
          if (report.changed.length < maxListed) {
            report.changed.push({
              decision_id: record.id,
              before: outcome.before,
              after: outcome.after.decision,
              determining_policies: outcome.after.determining_policies,
            })
          } else report.changed_truncated = true
          if (outcome.before === 'allow') report.summary.allow_to_deny++
          else report.summary.deny_to_allow++
        })
      }
    )
  } finally {
    replay.close()
  }
  return report
}
