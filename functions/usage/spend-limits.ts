import { recordAudit } from '../domain/audit.js'
import type { ServiceContext } from '../domain/context.js'
import { getOrganization } from '../domain/organizations.js'
import { updateVersioned } from '../domain/versioning.js'
import { invalid, notFound, staleVersion } from '../lib/errors.js'
import { formatMoney, parseMoney } from '../lib/money.js'
import type { Enforcement, SpendLimit } from '../model/index.js'
import { type StoredSpendLimit, spendLimits } from '../store/usage/budgets.js'
import { workspaces } from '../store/workspaces.js'
import { DEFAULT_ALERT_THRESHOLDS, DEFAULT_ENFORCEMENT } from './budgets.js'

export interface SpendLimitInput {
  /** Decimal string (> 0) or null for no limit. */
  monthly_limit: string | null
  alert_thresholds_percent?: number[] | undefined
  enforcement?: Enforcement | undefined
}

/** The limit of the organization (workspaceId null) or of one of its workspaces. */
export async function getSpendLimit(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string | null
): Promise<SpendLimit> {
  const organization = await getOrganization(ctx, organizationId)
  if (workspaceId) await requireWorkspace(ctx, organizationId, workspaceId)
  const stored = await spendLimits.get(ctx.db, {
    organization_id: organizationId,
    workspace_id: workspaceId,
  })
  return toSpendLimit(stored ?? unset(organizationId, workspaceId), organization.currency)
}

/**
 * Sets a monthly limit. A workspace's limit may not be above the organization's, and the
 * organization's may not go below any workspace's (400 either way). The two checks read the
 * other scope's current limit; limits are evaluated per scope by the aggregation job, so even a
 * race between the two writes never lets spend past the lower limit.
 */
export async function putSpendLimit(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string | null,
  input: SpendLimitInput,
  expectedVersion?: number
): Promise<SpendLimit> {
  const organization = await getOrganization(ctx, organizationId)
  if (workspaceId) await requireWorkspace(ctx, organizationId, workspaceId)
  const limitMicros = input.monthly_limit === null ? null : parseMoney(input.monthly_limit)
  if (limitMicros === 0n) {
    throw invalid('monthly_limit must be greater than 0; use null for no limit.', 'monthly_limit')
  }
  const thresholds = [...new Set(input.alert_thresholds_percent ?? DEFAULT_ALERT_THRESHOLDS)].sort(
    (a, b) => a - b
  )
  const scope = { organization_id: organizationId, workspace_id: workspaceId }
  if (limitMicros !== null) {
    // A stale If-Match is a 412 before any rule about the other scopes, which the caller judged
    // from the version it saw (RFC 9110 §13.2.2: preconditions before the content is processed).
    if (expectedVersion !== undefined) {
      const version = (await spendLimits.get(ctx.db, scope))?.version ?? 0
      if (version !== expectedVersion) throw staleVersion('resource', version, expectedVersion)
    }
    await checkAgainstOtherScopes(ctx, organizationId, workspaceId, limitMicros)
  }

  const result = await updateVersioned<StoredSpendLimit>({
    load: async () => (await spendLimits.get(ctx.db, scope)) ?? unset(organizationId, workspaceId),
    missing: () => new Error('unreachable'),
    expectedVersion,
    apply: (current) => {
      const next: StoredSpendLimit = {
        ...current,
        monthly_limit_micros: limitMicros === null ? null : Number(limitMicros),
        alert_thresholds_percent: thresholds,
        enforcement: input.enforcement ?? DEFAULT_ENFORCEMENT,
      }
      const same =
        current.version > 0 &&
        next.monthly_limit_micros === current.monthly_limit_micros &&
        next.enforcement === current.enforcement &&
        JSON.stringify(next.alert_thresholds_percent) ===
          JSON.stringify(current.alert_thresholds_percent)
      return same ? undefined : { ...next, updated_at: ctx.clock.now().toISOString() }
    },
    save: async (next, version) => {
      if (version > 0) return spendLimits.save(ctx.db, next, version)
      const created = { ...next, version: 1 }
      await spendLimits.create(ctx.db, created)
      return created
    },
  })
  const after = toSpendLimit(result.after, organization.currency)
  if (result.changed) {
    await recordAudit(ctx, organizationId, {
      event_type: 'spend_limit.updated',
      target: { type: 'spend_limit', id: workspaceId ?? organizationId },
      workspace_id: workspaceId,
      before: result.before.version > 0 ? toSpendLimit(result.before, organization.currency) : null,
      after,
    })
  }
  return after
}

async function checkAgainstOtherScopes(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string | null,
  limitMicros: bigint
): Promise<void> {
  if (workspaceId) {
    const organizationLimit = await spendLimits.get(ctx.db, {
      organization_id: organizationId,
      workspace_id: null,
    })
    const cap = organizationLimit?.monthly_limit_micros
    if (cap !== undefined && cap !== null && limitMicros > BigInt(cap)) {
      throw invalid(
        `The workspace limit ${formatMoney(limitMicros)} is above the organization's limit ${formatMoney(cap)}.`,
        'monthly_limit'
      )
    }
    return
  }
  const above = (await spendLimits.listWorkspaceLimits(ctx.db, organizationId)).find(
    (limit) =>
      limit.monthly_limit_micros !== null && BigInt(limit.monthly_limit_micros) > limitMicros
  )
  if (above) {
    throw invalid(
      `The organization limit ${formatMoney(limitMicros)} is below the limit ${formatMoney(above.monthly_limit_micros!)} of workspace '${above.workspace_id}'.`,
      'monthly_limit'
    )
  }
}

async function requireWorkspace(ctx: ServiceContext, organizationId: string, workspaceId: string) {
  const workspace = await workspaces.get(ctx.db, organizationId, workspaceId)
  if (!workspace) throw notFound('workspace', workspaceId, 'id')
}

function unset(organizationId: string, workspaceId: string | null): StoredSpendLimit {
  return {
    organization_id: organizationId,
    workspace_id: workspaceId,
    monthly_limit_micros: null,
    alert_thresholds_percent: DEFAULT_ALERT_THRESHOLDS,
    enforcement: DEFAULT_ENFORCEMENT,
    updated_at: '',
    version: 0,
  }
}

function toSpendLimit(stored: StoredSpendLimit, currency: string): SpendLimit {
  return {
    object: 'spend_limit',
    organization_id: stored.organization_id,
    workspace_id: stored.workspace_id,
    monthly_limit:
      stored.monthly_limit_micros === null ? null : formatMoney(stored.monthly_limit_micros),
    alert_thresholds_percent: stored.alert_thresholds_percent,
    enforcement: stored.enforcement,
    currency,
    updated_at: stored.updated_at || null,
    version: stored.version,
  }
}
