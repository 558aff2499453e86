import { recordAudit } from '../domain/audit.js'
import type { ServiceContext } from '../domain/context.js'
import { formatMoney } from '../lib/money.js'
import { monthKey } from '../lib/time-buckets.js'
import type { UsageEvent } from '../model/index.js'
import { spendLimits } from '../store/usage/budgets.js'
import { liveSpend, liveSuspensions } from '../store/usage/live-spend.js'
import { organizationScope, scopeName, type UsageScope } from '../store/usage/scope.js'

interface ScopeMonth {
  scope: UsageScope
  month: string
  micros: number
  subMicros: number
}

/**
 * Advances the live spend of the accepted events' workspaces and organizations (one ADD per
 * scope and month), and suspends at once a scope of the current month whose live spend reached
 * its hard limit: a live suspension item the decision read path sees, and an audit entry
 * `budget.suspended` that bumps the organization's revision so decision caches reload (within
 * DecisionOptions.revisionCheckMs, 1 s by default, on every instance). Called after the raw
 * events are written: an event id seen before is not accepted again, so a retried request adds
 * nothing twice (docs/rate-limits.md, "Live spend").
 */
export async function advanceLiveSpend(
  ctx: ServiceContext,
  accepted: readonly UsageEvent[]
): Promise<void> {
  const sums = new Map<string, ScopeMonth>()
  for (const event of accepted) {
    const month = event.timestamp.slice(0, 7)
    for (const scope of [
      { organization_id: event.organization_id, workspace_id: event.workspace_id },
      organizationScope(event.organization_id),
    ]) {
      const key = `${scopeName(scope)}\n${month}`
      const sum = sums.get(key) ?? { scope, month, micros: 0, subMicros: 0 }
      sum.micros += event.cost_micros
      sum.subMicros += event.cost_sub_micros ?? 0
      sums.set(key, sum)
    }
  }
  if (sums.size === 0) return
  const current = monthKey(ctx.clock.now())
  const currentScopes = [...sums.values()].filter((s) => s.month === current).map((s) => s.scope)
  const [limits, after] = await Promise.all([
    currentScopes.length > 0 ? spendLimits.getMany(ctx.db, currentScopes) : new Map(),
    Promise.all(
      [...sums.values()].map(async (sum) => ({
        sum,
        spend: await liveSpend.add(ctx.db, sum.scope, sum.month, {
          micros: sum.micros,
          subMicros: sum.subMicros,
        }),
      }))
    ),
  ])
  for (const { sum, spend } of after) {
    if (sum.month !== current) continue
    const limit = limits.get(scopeName(sum.scope))
    if (!limit || limit.enforcement !== 'hard' || limit.monthly_limit_micros === null) continue
    if (spend.live_micros < BigInt(limit.monthly_limit_micros)) continue
    const created = await liveSuspensions.create(ctx.db, {
      ...sum.scope,
      month: current,
      live_micros: Number(spend.live_micros),
      limit_micros: limit.monthly_limit_micros,
      suspended_at: ctx.clock.now().toISOString(),
    })
    if (!created) continue
    await recordAudit(ctx, sum.scope.organization_id, {
      event_type: 'budget.suspended',
      target: sum.scope.workspace_id
        ? { type: 'workspace', id: sum.scope.workspace_id }
        : { type: 'organization', id: sum.scope.organization_id },
      workspace_id: sum.scope.workspace_id,
      after: {
        month: current,
        suspended: true,
        source: 'live_spend',
        live_spend: formatMoney(spend.live_micros),
        limit: formatMoney(limit.monthly_limit_micros),
      },
    })
  }
}

/**
 * The aggregation job's reconciliation of live suspensions (after it re-evaluated budgets from
 * exact totals): a suspension whose scope's live spend is below its hard limit now — the limit
 * was raised or removed, or a new month began — is lifted and audited `budget.resumed`. Returns
 * the organizations whose decisions must see a change.
 */
export async function reconcileLiveSuspensions(
  ctx: ServiceContext,
  scopes: readonly UsageScope[]
): Promise<Set<string>> {
  const changed = new Set<string>()
  if (scopes.length === 0) return changed
  const suspensions = await liveSuspensions.getMany(ctx.db, scopes)
  if (suspensions.size === 0) return changed
  const suspended = scopes.filter((scope) => suspensions.has(scopeName(scope)))
  const month = monthKey(ctx.clock.now())
  const [limits, spend] = await Promise.all([
    spendLimits.getMany(ctx.db, suspended),
    liveSpend.getMany(ctx.db, suspended, month),
  ])
  for (const scope of suspended) {
    const name = scopeName(scope)
    const limit = limits.get(name)
    const live = spend.get(name)?.live_micros ?? 0n
    const holds =
      suspensions.get(name)!.month === month &&
      limit?.enforcement === 'hard' &&
      limit.monthly_limit_micros !== null &&
      live >= BigInt(limit.monthly_limit_micros)
    if (holds || !(await liveSuspensions.lift(ctx.db, scope, month, live))) continue
    changed.add(scope.organization_id)
    await recordAudit(ctx, scope.organization_id, {
      event_type: 'budget.resumed',
      target: scope.workspace_id
        ? { type: 'workspace', id: scope.workspace_id }
        : { type: 'organization', id: scope.organization_id },
      workspace_id: scope.workspace_id,
      before: { month: suspensions.get(name)!.month, suspended: true, source: 'live_spend' },
      after: { month, suspended: false, source: 'live_spend', live_spend: formatMoney(live) },
    })
  }
  return changed
}
