import { recordAudit } from '../domain/audit.js'
import type { ServiceContext } from '../domain/context.js'
import { getOrganization } from '../domain/organizations.js'
import type { AlertPublisher } from '../lib/alert-bus.js'
import { newId } from '../lib/ids.js'
import { divideRounded, formatMoney } from '../lib/money.js'
import { monthKey, monthRange } from '../lib/time-buckets.js'
import type { Budget, BudgetAlert, BudgetState, Enforcement, Organization } from '../model/index.js'
import { ConditionFailedError } from '../store/db.js'
import { organizations } from '../store/organizations.js'
import type { PageRequest } from '../store/pagination.js'
import { revisions } from '../store/revisions.js'
import {
  budgetAlerts,
  budgetStates,
  type StoredAlert,
  type StoredBudget,
  type StoredSpendLimit,
  spendLimits,
} from '../store/usage/budgets.js'
import { liveSpend, liveSuspensions } from '../store/usage/live-spend.js'
import { organizationScope, scopeName, type UsageScope } from '../store/usage/scope.js'
import { costMicrosOf, usageTotals } from '../store/usage/totals.js'
import { workspaces } from '../store/workspaces.js'
import { emitWebhookEvent, eventIdFor } from '../webhooks/events.js'
import { liveSuspensionsOf } from './live-spend.js'

export const DEFAULT_ALERT_THRESHOLDS = [50, 80, 100]
export const DEFAULT_ENFORCEMENT: Enforcement = 'hard'
const HOUR_MS = 3_600_000

export interface BudgetFigures {
  percent_used: number | null
  forecast_micros: bigint
  state: BudgetState
  suspended: boolean
  /** The alert thresholds the spend has reached, ascending. */
  crossed: number[]
}

/**
 * A scope's figures for `month` at `now`. The forecast is linear on the month so far (spend ÷
 * elapsed × month length; the elapsed time counts as at least one hour). `exceeded` is spend at or
 * above the limit, `warning` is the lowest alert threshold reached; a hard limit that is exceeded
 * suspends the scope.
 */
export function budgetFigures(input: {
  spend_micros: bigint
  limit_micros: bigint | null
  alert_thresholds_percent: readonly number[]
  enforcement: Enforcement
  month: string
  now: Date
}): BudgetFigures {
  const { start, end } = monthRange(input.month)
  const elapsed = BigInt(Math.max(input.now.getTime() - start.getTime(), HOUR_MS))
  const length = BigInt(end.getTime() - start.getTime())
  const forecast_micros = divideRounded(input.spend_micros * length, elapsed)
  const limit = input.limit_micros
  if (limit === null) {
    return { percent_used: null, forecast_micros, state: 'ok', suspended: false, crossed: [] }
  }
  const crossed = [...input.alert_thresholds_percent]
    .sort((a, b) => a - b)
    .filter((threshold) => input.spend_micros * 100n >= BigInt(threshold) * limit)
  const exceeded = input.spend_micros >= limit
  return {
    // Floored to hundredths, so a scope just short of its limit never shows 100.
    percent_used: Number((input.spend_micros * 10_000n) / limit) / 100,
    forecast_micros,
    state: exceeded ? 'exceeded' : crossed.length > 0 ? 'warning' : 'ok',
    suspended: exceeded && input.enforcement === 'hard',
    crossed,
  }
}

/**
 * Re-evaluates the budgets of `scopes` (and of the organizations of workspace scopes) for the
 * current month, from the month totals: stores spend, percent, forecast, state and suspension,
 * and fires each alert threshold once per scope and month — stored as a budget alert, written to
 * the audit log and handed to `publisher`. Called by the aggregation job, which holds the job
 * lock, so nothing else writes budget states meanwhile.
 */
export async function evaluateBudgets(
  ctx: ServiceContext,
  requested: readonly UsageScope[],
  publisher?: AlertPublisher
): Promise<{ workspacesEvaluated: number; alerts: BudgetAlert[] }> {
  const now = ctx.clock.now()
  const month = monthKey(now)
  const scopes = uniqueScopes([
    ...requested,
    ...requested.map((scope) => organizationScope(scope.organization_id)),
  ])
  if (scopes.length === 0) return { workspacesEvaluated: 0, alerts: [] }
  const organizationIds = [...new Set(scopes.map((scope) => scope.organization_id))]
  const [limits, totals, states, orgs, live] = await Promise.all([
    spendLimits.getMany(ctx.db, scopes),
    usageTotals.monthly(ctx.db, scopes, month),
    budgetStates.getMany(ctx.db, scopes),
    Promise.all(organizationIds.map((id) => organizations.get(ctx.db, id))),
    liveSuspensionsOf(ctx, scopes, month),
  ])
  const currencyOf = new Map(
    orgs
      .filter((org): org is Organization => org !== undefined)
      .map((org) => [org.id, org.currency])
  )

  const fired: BudgetAlert[] = []
  const next: StoredBudget[] = []
  /** Organizations where a scope's suspension changed: their decisions must see it. */
  const changed = new Set<string>()
  for (const scope of scopes) {
    const currency = currencyOf.get(scope.organization_id)
    if (!currency) continue
    const name = scopeName(scope)
    const limit = limits.get(name)
    const previous = states.get(name)
    // The month's exact cost rounded once: the same figure as its 1mo cost report.
    const amounts = totals.get(name)
    const spend = amounts ? costMicrosOf(amounts) : 0n
    const config = limitConfig(limit)
    const figures = budgetFigures({ spend_micros: spend, month, now, ...config })
    const alerts = previous?.month === month ? [...previous.alerts] : []
    for (const threshold of figures.crossed) {
      if (alerts.some((alert) => alert.threshold_percent === threshold)) continue
      const candidate: BudgetAlert = {
        id: newId('budgetAlert', now),
        object: 'budget_alert',
        organization_id: scope.organization_id,
        workspace_id: scope.workspace_id,
        month,
        threshold_percent: threshold,
        spend: formatMoney(spend),
        limit: formatMoney(config.limit_micros!),
        currency,
        enforcement: config.enforcement,
        suspended: figures.suspended,
        fired_at: now.toISOString(),
      }
      const { alert, fresh } = await fireAlert(ctx, candidate, publisher)
      alerts.push(alert)
      if (fresh) fired.push(alert)
    }
    // Suspended by this evaluation, or still by live spend (live-spend.ts); an audit entry only
    // when that changes, so a scope suspended at ingestion is not announced twice.
    const liveHolds = live.holds(name, limit)
    const wasSuspended = (previous?.suspended ?? false) || live.suspended(name)
    if (live.suspended(name) && !liveHolds) live.lift.push(scope)
    if (wasSuspended !== (figures.suspended || liveHolds)) {
      changed.add(scope.organization_id)
      const type = wasSuspended ? 'budget.resumed' : 'budget.suspended'
      // Before the state write: a crash in between repeats this entry rather than losing it.
      const audit = await recordAudit(ctx, scope.organization_id, {
        event_type: type,
        target: scopeTarget(scope),
        workspace_id: scope.workspace_id,
        before: previous ? { month: previous.month, suspended: wasSuspended } : null,
        after: { month, suspended: !wasSuspended, spend: formatMoney(spend) },
      })
      await emitWebhookEvent(ctx, scope.organization_id, {
        type,
        id: eventIdFor(audit.id),
        data: {
          scope: scope.workspace_id ? 'workspace' : 'organization',
          workspace_id: scope.workspace_id,
          month,
          spend: formatMoney(spend),
          limit: config.limit_micros === null ? null : formatMoney(config.limit_micros),
          currency,
          enforcement: config.enforcement,
        },
      })
    }
    next.push({
      organization_id: scope.organization_id,
      workspace_id: scope.workspace_id,
      month,
      spend_micros: Number(spend),
      limit_micros: config.limit_micros === null ? null : Number(config.limit_micros),
      enforcement: config.enforcement,
      alert_thresholds_percent: config.alert_thresholds_percent,
      percent_used: figures.percent_used,
      forecast_micros: Number(figures.forecast_micros),
      state: figures.state,
      suspended: figures.suspended,
      alerts,
      last_evaluated_at: now.toISOString(),
    })
  }
  await budgetStates.putMany(ctx.db, next)
  // Live suspensions that no longer hold (a raised limit, a new month) are lifted.
  for (const organizationId of await live.liftAll()) changed.add(organizationId)
  // After the states are written (the audit entries above came before them).
  for (const organizationId of changed) await revisions.bump(ctx.db, organizationId)
  return {
    workspacesEvaluated: next.filter((budget) => budget.workspace_id !== null).length,
    alerts: fired,
  }
}

/**
 * Fires an alert exactly once per (scope, month, threshold): the alert item's conditional
 * creation decides, and an alert whose delivery (audit entry, publication) was cut short by a
 * crash is completed by the next evaluation. The audit entry has a fixed id, so it is written
 * once; the publication is at least once.
 */
async function fireAlert(
  ctx: ServiceContext,
  candidate: BudgetAlert,
  publisher: AlertPublisher | undefined
): Promise<{ alert: BudgetAlert; fresh: boolean }> {
  let stored: StoredAlert = {
    ...candidate,
    audit_event_id: newId('auditEvent', ctx.clock.now()),
    delivered: false,
  }
  const created = await budgetAlerts.create(ctx.db, stored)
  if (!created) {
    const existing = await budgetAlerts.get(ctx.db, candidate)
    if (!existing) throw new Error(`budget alert ${candidate.id} vanished`)
    if (existing.delivered) return { alert: publicAlert(existing), fresh: false }
    stored = existing
  }
  const alert = publicAlert(stored)
  try {
    await recordAudit(ctx, alert.organization_id, {
      id: stored.audit_event_id,
      event_type: 'budget.alert',
      target: scopeTarget(alert),
      workspace_id: alert.workspace_id,
      after: alert,
    })
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error
  }
  await publisher?.publish(alert)
  // Keyed by the alert's id: a repeat after a crash enqueues nothing twice.
  await emitWebhookEvent(ctx, alert.organization_id, {
    type: 'budget.threshold_crossed',
    id: eventIdFor(alert.id),
    data: { ...alert },
  })
  await budgetAlerts.markDelivered(ctx.db, alert)
  return { alert, fresh: true }
}

function publicAlert(stored: StoredAlert): BudgetAlert {
  const { audit_event_id, delivered, ...alert } = stored
  return alert
}

function scopeTarget(scope: UsageScope) {
  return scope.workspace_id
    ? { type: 'workspace', id: scope.workspace_id }
    : { type: 'organization', id: scope.organization_id }
}

function limitConfig(limit: StoredSpendLimit | undefined) {
  return {
    limit_micros:
      limit?.monthly_limit_micros === null || limit === undefined
        ? null
        : BigInt(limit.monthly_limit_micros),
    alert_thresholds_percent: limit?.alert_thresholds_percent ?? DEFAULT_ALERT_THRESHOLDS,
    enforcement: limit?.enforcement ?? DEFAULT_ENFORCEMENT,
  }
}

function uniqueScopes(scopes: readonly UsageScope[]): UsageScope[] {
  return [...new Map(scopes.map((scope) => [scopeName(scope), scope])).values()]
}

/**
 * `GET /v1/budgets`: the organization (first page only) and a page of its workspaces, each as of
 * its last evaluation. A scope not evaluated yet this month has spent nothing this month (every
 * run that aggregates usage evaluates its scopes), so it shows zero — unless it is still suspended
 * from an earlier month, which the next run lifts.
 */
export async function listBudgets(ctx: ServiceContext, organizationId: string, page: PageRequest) {
  const organization = await getOrganization(ctx, organizationId)
  const workspacePage = await workspaces.list(ctx.db, organizationId, page)
  const scopes: UsageScope[] = [
    ...(page.after ? [] : [organizationScope(organizationId)]),
    ...workspacePage.data.map((ws) => ({ organization_id: organizationId, workspace_id: ws.id })),
  ]
  const month = monthKey(ctx.clock.now())
  const [states, limits, live, liveSuspended] = await Promise.all([
    budgetStates.getMany(ctx.db, scopes),
    spendLimits.getMany(ctx.db, scopes),
    liveSpend.getMany(ctx.db, scopes, month),
    liveSuspensions.getMany(ctx.db, scopes),
  ])
  const data = scopes.map((scope) => {
    const view = budgetView(
      scope,
      states.get(scopeName(scope)),
      limits.get(scopeName(scope)),
      month,
      organization.currency
    )
    return {
      ...view,
      // What decisions see: the last run's state, or a suspension by live spend since.
      suspended: view.suspended || liveSuspended.has(scopeName(scope)),
      // Including ingested events not aggregated yet (docs/rate-limits.md, "Live spend").
      live_spend: formatMoney(maxZero(live.get(scopeName(scope))?.live_micros ?? 0n)),
    }
  })
  return { data, has_more: workspacePage.has_more, next_cursor: workspacePage.next_cursor }
}

function budgetView(
  scope: UsageScope,
  state: StoredBudget | undefined,
  limit: StoredSpendLimit | undefined,
  month: string,
  currency: string
): Budget {
  const base = {
    object: 'budget' as const,
    scope: scope.workspace_id ? ('workspace' as const) : ('organization' as const),
    organization_id: scope.organization_id,
    workspace_id: scope.workspace_id,
    currency,
  }
  if (state && (state.month === month || state.suspended)) {
    return {
      ...base,
      month: state.month,
      spend: formatMoney(state.spend_micros),
      limit: state.limit_micros === null ? null : formatMoney(state.limit_micros),
      percent_used: state.percent_used,
      forecast_month_end: formatMoney(state.forecast_micros),
      state: state.state,
      suspended: state.suspended,
      enforcement: state.enforcement,
      alert_thresholds_percent: state.alert_thresholds_percent,
      alerts: state.alerts,
      last_evaluated_at: state.last_evaluated_at,
    }
  }
  const config = limitConfig(limit)
  return {
    ...base,
    month,
    spend: formatMoney(0),
    limit: config.limit_micros === null ? null : formatMoney(config.limit_micros),
    percent_used: config.limit_micros === null ? null : 0,
    forecast_month_end: formatMoney(0),
    state: 'ok',
    suspended: false,
    enforcement: config.enforcement,
    alert_thresholds_percent: config.alert_thresholds_percent,
    alerts: [],
    last_evaluated_at: state?.last_evaluated_at ?? null,
  }
}

/** A live figure is briefly below zero when an event is aggregated before its ADD lands. */
function maxZero(micros: bigint): bigint {
  return micros < 0n ? 0n : micros
}
