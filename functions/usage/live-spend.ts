import { recordAudit } from '../domain/audit.js'
import type { ServiceContext } from '../domain/context.js'
import { formatMoney } from '../lib/money.js'
import { monthKey } from '../lib/time-buckets.js'
import type { UsageEvent } from '../model/index.js'
import { organizations } from '../store/organizations.js'
import { type StoredSpendLimit, spendLimits } from '../store/usage/budgets.js'
import { liveSpend, liveSuspensions } from '../store/usage/live-spend.js'
import { scopeName, type UsageScope } from '../store/usage/scope.js'
import { emitWebhookEvent, eventIdFor } from '../webhooks/events.js'

interface ScopeMonth {
  scope: UsageScope
  month: string
}

type Costs = Map<string | null, { micros: number; subMicros: number }>

/**
 * Per organization and month of the events' timestamps, the cost of each workspace and of the
 * organization itself (under null): what ingestion adds to live spend, and what the aggregation
 * takes back for the copies it drops.
 */
export function costsByOrganizationMonth(events: readonly UsageEvent[]) {
  const sums = new Map<string, { organizationId: string; month: string; costs: Costs }>()
  for (const event of events) {
    const month = event.timestamp.slice(0, 7)
    const key = `${event.organization_id}\n${month}`
    let sum = sums.get(key)
    if (!sum) {
      sum = { organizationId: event.organization_id, month, costs: new Map() }
      sums.set(key, sum)
    }
    for (const workspaceId of [event.workspace_id, null]) {
      const cost = sum.costs.get(workspaceId) ?? { micros: 0, subMicros: 0 }
      cost.micros += event.cost_micros
      cost.subMicros += event.cost_sub_micros ?? 0
      sum.costs.set(workspaceId, cost)
    }
  }
  return sums
}

/**
 * Whether the live spend of `event`'s month is still read at `now`: the current month's (budgets,
 * live suspensions) and the next's (events stamped a little ahead), never an earlier month's. A
 * late event of an earlier month adds to no live figure, nor is one taken back for it: its exact
 * cost is aggregated as usual.
 */
export function readsLiveSpend(event: { timestamp: string }, now: Date): boolean {
  return event.timestamp.slice(0, 7) >= monthKey(now)
}

/**
 * Advances the live spend of the accepted events' workspaces and organizations (one UpdateItem
 * per organization, month and live-spend shard, carrying every scope's ADD), and suspends at
 * once a scope of the current month whose live spend reached its hard limit: a live suspension
 * item the decision read path sees, and an audit entry `budget.suspended` that bumps the
 * organization's revision so decision caches reload (within
 * DecisionOptions.revisionCheckMs, 1 s by default, on every instance). Called after the raw
 * events are written: an event id seen before is not accepted again, so a retried request adds
 * nothing twice (docs/rate-limits.md, "Live spend").
 */
export async function advanceLiveSpend(
  ctx: ServiceContext,
  accepted: readonly UsageEvent[],
  /** The spend limits of the events' scopes, when the caller read them already (by scopeName). */
  knownLimits?: ReadonlyMap<string, StoredSpendLimit>
): Promise<void> {
  const now = ctx.clock.now()
  const current = monthKey(now)
  const sums = costsByOrganizationMonth(accepted.filter((event) => readsLiveSpend(event, now)))
  if (sums.size === 0) return
  const currentScopes = [...sums.values()]
    .filter((s) => s.month === current)
    .flatMap((s) =>
      [...s.costs.keys()].map((workspace_id) => ({
        organization_id: s.organizationId,
        workspace_id,
      }))
    )
  const [limits, added] = await Promise.all([
    knownLimits ??
      (currentScopes.length > 0 ? spendLimits.getMany(ctx.db, currentScopes) : new Map()),
    Promise.all(
      [...sums.values()].map(async (sum) => ({
        sum,
        live: await liveSpend.add(ctx.db, sum.organizationId, sum.month, sum.costs),
      }))
    ),
  ])
  const after: { sum: ScopeMonth; spend: { live_micros: bigint } }[] = added.flatMap(
    ({ sum, live }) =>
      [...live].map(([workspace_id, live_micros]) => ({
        sum: { scope: { organization_id: sum.organizationId, workspace_id }, month: sum.month },
        spend: { live_micros },
      }))
  )
  for (const { sum, spend } of after) {
    if (sum.month !== current) continue
    const limit = limits.get(scopeName(sum.scope))
    if (limit?.enforcement !== 'hard' || limit.monthly_limit_micros === null) continue
    if (spend.live_micros < BigInt(limit.monthly_limit_micros)) continue
    const created = await liveSuspensions.create(ctx.db, {
      ...sum.scope,
      month: current,
      live_micros: Number(spend.live_micros),
      limit_micros: limit.monthly_limit_micros,
      suspended_at: ctx.clock.now().toISOString(),
    })
    if (!created) continue
    const audit = await recordAudit(ctx, sum.scope.organization_id, {
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
    // The same event as the aggregation job's suspension (budgets.ts), marked as live.
    const organization = await organizations.get(ctx.db, sum.scope.organization_id)
    await emitWebhookEvent(ctx, sum.scope.organization_id, {
      type: 'budget.suspended',
      id: eventIdFor(audit.id),
      data: {
        scope: sum.scope.workspace_id ? 'workspace' : 'organization',
        workspace_id: sum.scope.workspace_id,
        month: current,
        spend: formatMoney(spend.live_micros),
        limit: formatMoney(limit.monthly_limit_micros),
        currency: organization?.currency ?? null,
        enforcement: limit.enforcement,
        source: 'live_spend',
      },
    })
  }
}

/**
 * The aggregation job's view of live suspensions (evaluateBudgets): which scopes have one, and
 * whether it still holds — the scope's live spend is at or above its hard limit this month.
 * One that no longer holds (a raised or removed limit, a new month) is lifted by `liftAll`,
 * unless it was set from a live figure the job's reading did not include yet.
 */
export async function liveSuspensionsOf(
  ctx: ServiceContext,
  scopes: readonly UsageScope[],
  month: string
) {
  const suspensions = scopes.length ? await liveSuspensions.getMany(ctx.db, scopes) : new Map()
  const suspended = scopes.filter((scope) => suspensions.has(scopeName(scope)))
  const spend = suspended.length ? await liveSpend.getMany(ctx.db, suspended, month) : new Map()
  const lift: UsageScope[] = []
  return {
    lift,
    suspended: (name: string) => suspensions.has(name),
    holds(name: string, limit: StoredSpendLimit | undefined): boolean {
      const live = spend.get(name)?.live_micros ?? 0n
      return (
        suspensions.get(name)?.month === month &&
        limit?.enforcement === 'hard' &&
        limit.monthly_limit_micros !== null &&
        live >= BigInt(limit.monthly_limit_micros)
      )
    },
    /** Lifts the suspensions in `lift`; the organizations whose decisions must see it. */
    async liftAll(): Promise<Set<string>> {
      const changed = new Set<string>()
      for (const scope of lift) {
        const seen = suspensions.get(scopeName(scope))!
        if (await liveSuspensions.lift(ctx.db, scope, month, seen.suspended_at)) {
          changed.add(scope.organization_id)
        }
      }
      return changed
    },
  }
}
