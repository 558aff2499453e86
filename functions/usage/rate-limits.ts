import { recordAudit } from '../domain/audit.js'
import type { ServiceContext } from '../domain/context.js'
import { getOrganization } from '../domain/organizations.js'
import { updateVersioned } from '../domain/versioning.js'
import { invalid, notFound, staleVersion } from '../lib/errors.js'
import {
  rateLimitConfigs,
  type StoredRateLimitEntry,
  type StoredRateLimits,
} from '../store/rate-limits.js'
import { workspaces } from '../store/workspaces.js'

export const LIMIT_TYPES = ['requests_per_minute', 'tokens_per_minute', 'tokens_per_month'] as const
export type LimitType = (typeof LIMIT_TYPES)[number]

/** One entry as the API takes it: absent or null = no limit at this level. */
export interface RateLimitEntryInput {
  model: string
  requests_per_minute?: number | null | undefined
  tokens_per_minute?: number | null | undefined
  tokens_per_month?: number | null | undefined
}

export interface RateLimits {
  object: 'rate_limits'
  organization_id: string
  workspace_id: string | null
  limits: StoredRateLimitEntry[]
  updated_at: string | null
  version: number
}

/** One effective value of a workspace (`include_inherited=true`). */
export interface EffectiveRateLimit {
  model: string
  limit_type: LimitType
  value: number
  source: 'workspace' | 'organization'
  /** The organization's value for the same model and type, for reference (null: none). */
  organization_value: number | null
}

export async function getRateLimits(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string | null
): Promise<RateLimits> {
  await getOrganization(ctx, organizationId)
  if (workspaceId) await requireWorkspace(ctx, organizationId, workspaceId)
  const stored = await rateLimitConfigs.get(ctx.db, organizationId, workspaceId)
  return view(stored ?? unset(organizationId, workspaceId))
}

/**
 * Every value in force in a workspace: its own, and the organization's where it sets none.
 * An organization value counts all its workspaces together (docs/rate-limits.md).
 */
export async function effectiveRateLimits(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string
): Promise<EffectiveRateLimit[]> {
  await getOrganization(ctx, organizationId)
  await requireWorkspace(ctx, organizationId, workspaceId)
  const { organization, workspace } = await rateLimitConfigs.getPair(
    ctx.db,
    organizationId,
    workspaceId
  )
  const orgEntries = new Map((organization?.limits ?? []).map((e) => [e.model, e]))
  const wsEntries = new Map((workspace?.limits ?? []).map((e) => [e.model, e]))
  const models = [...new Set([...wsEntries.keys(), ...orgEntries.keys()])].sort()
  const effective: EffectiveRateLimit[] = []
  for (const model of models) {
    for (const type of LIMIT_TYPES) {
      const own = wsEntries.get(model)?.[type] ?? null
      const inherited = orgEntries.get(model)?.[type] ?? null
      if (own === null && inherited === null) continue
      effective.push({
        model,
        limit_type: type,
        value: own ?? inherited!,
        source: own !== null ? 'workspace' : 'organization',
        organization_value: inherited,
      })
    }
  }
  return effective
}

/**
 * Replaces a scope's limits. A workspace value may not be above the organization's for the same
 * model (or, when the organization has no entry for the model, its `*` entry), and the
 * organization's may not go below a workspace's (400 either way), as spend limits.
 */
export async function putRateLimits(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string | null,
  input: readonly RateLimitEntryInput[],
  expectedVersion?: number
): Promise<RateLimits> {
  await getOrganization(ctx, organizationId)
  if (workspaceId) await requireWorkspace(ctx, organizationId, workspaceId)
  const entries = normalise(input)
  if (expectedVersion !== undefined) {
    const version = (await rateLimitConfigs.get(ctx.db, organizationId, workspaceId))?.version ?? 0
    if (version !== expectedVersion) throw staleVersion('resource', version, expectedVersion)
  }
  await checkAgainstOtherScopes(ctx, organizationId, workspaceId, entries)
  const result = await updateVersioned<StoredRateLimits>({
    load: async () =>
      (await rateLimitConfigs.get(ctx.db, organizationId, workspaceId)) ??
      unset(organizationId, workspaceId),
    missing: () => new Error('unreachable'),
    expectedVersion,
    apply: (current) => {
      if (current.version > 0 && JSON.stringify(current.limits) === JSON.stringify(entries)) {
        return undefined
      }
      return { ...current, limits: entries, updated_at: ctx.clock.now().toISOString() }
    },
    save: async (next, version) => {
      if (version > 0) return rateLimitConfigs.save(ctx.db, next, version)
      const created = { ...next, version: 1 }
      await rateLimitConfigs.create(ctx.db, created)
      return created
    },
  })
  const after = view(result.after)
  if (result.changed) {
    // Also bumps the organization's revision: decisions read the new limits at once.
    await recordAudit(ctx, organizationId, {
      event_type: 'rate_limits.updated',
      target: { type: 'rate_limits', id: workspaceId ?? organizationId },
      workspace_id: workspaceId,
      before: result.before.version > 0 ? view(result.before) : null,
      after,
    })
  }
  return after
}

/** One entry per model, in the caller's order, every type present (null = none). */
function normalise(input: readonly RateLimitEntryInput[]): StoredRateLimitEntry[] {
  const seen = new Set<string>()
  input.forEach((entry, index) => {
    if (seen.has(entry.model)) {
      throw invalid(`Model '${entry.model}' is listed twice.`, `limits.${index}.model`)
    }
    seen.add(entry.model)
  })
  return input.map((entry) => ({
    model: entry.model,
    requests_per_minute: entry.requests_per_minute ?? null,
    tokens_per_minute: entry.tokens_per_minute ?? null,
    tokens_per_month: entry.tokens_per_month ?? null,
  }))
}

/** The organization value a workspace value is checked against (same model, else `*`). */
function cap(organization: readonly StoredRateLimitEntry[], model: string, type: LimitType) {
  const own = organization.find((e) => e.model === model)?.[type]
  if (own !== undefined && own !== null) return { value: own, model }
  const any = organization.find((e) => e.model === '*')?.[type]
  return any === undefined || any === null ? null : { value: any, model: '*' }
}

async function checkAgainstOtherScopes(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string | null,
  entries: readonly StoredRateLimitEntry[]
): Promise<void> {
  if (workspaceId) {
    const organization = (await rateLimitConfigs.get(ctx.db, organizationId, null))?.limits ?? []
    entries.forEach((entry, index) => {
      for (const type of LIMIT_TYPES) {
        const value = entry[type]
        const limit = cap(organization, entry.model, type)
        if (value !== null && limit && value > limit.value) {
          throw invalid(
            `The workspace's ${type} ${value} for '${entry.model}' is above the organization's ${limit.value} (for '${limit.model}').`,
            `limits.${index}.${type}`
          )
        }
      }
    })
    return
  }
  for (const workspace of await rateLimitConfigs.listWorkspaceConfigs(ctx.db, organizationId)) {
    for (const entry of workspace.limits) {
      for (const type of LIMIT_TYPES) {
        const value = entry[type]
        const limit = cap(entries, entry.model, type)
        if (value !== null && limit && value > limit.value) {
          const index = entries.findIndex((e) => e.model === limit.model)
          throw invalid(
            `The organization's ${type} ${limit.value} for '${limit.model}' is below the value ${value} of workspace '${workspace.workspace_id}' for '${entry.model}'.`,
            `limits.${index}.${type}`
          )
        }
      }
    }
  }
}

async function requireWorkspace(ctx: ServiceContext, organizationId: string, workspaceId: string) {
  const workspace = await workspaces.get(ctx.db, organizationId, workspaceId)
  if (!workspace) throw notFound('workspace', workspaceId, 'id')
}

function unset(organizationId: string, workspaceId: string | null): StoredRateLimits {
  return {
    organization_id: organizationId,
    workspace_id: workspaceId,
    limits: [],
    updated_at: '',
    version: 0,
  }
}

function view(stored: StoredRateLimits): RateLimits {
  return {
    object: 'rate_limits',
    organization_id: stored.organization_id,
    workspace_id: stored.workspace_id ?? null,
    limits: stored.limits,
    updated_at: stored.updated_at || null,
    version: stored.version,
  }
}
