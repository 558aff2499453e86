import * as engine from '../authz/engine.js'
import {
  type AppError,
  conflict,
  invalid,
  notFound,
  preconditionFailed,
  staleVersion,
} from '../lib/errors.js'
import type { CustomPolicy } from '../model/index.js'
import { ConditionFailedError } from '../store/db.js'
import type { Page, PageRequest } from '../store/pagination.js'
import { customPolicies } from '../store/policies.js'
import { revisions } from '../store/revisions.js'
import { emitWebhookEvent, eventIdFor } from '../webhooks/events.js'
import { recordAudit } from './audit.js'
import type { ServiceContext } from './context.js'
import { updateVersioned } from './versioning.js'

/** An organization has at most this many custom policies, each at most this long. */
export const MAX_CUSTOM_POLICIES = 100
export const MAX_POLICY_BYTES = 10_000
export const POLICY_ID_PATTERN = /^[a-z0-9-]{1,64}$/

/** A policy as the API shows it: built in (shared by every organization) or the organization's. */
export type PolicyView =
  | {
      id: string
      object: 'policy'
      source: 'builtin'
      effect: 'permit' | 'forbid'
      description: string
      cedar: string
      organization_id: null
      created_at: null
      updated_at: null
      version: null
    }
  | CustomPolicy

function builtinView(policy: engine.PolicyInfo): PolicyView {
  return {
    id: policy.id,
    object: 'policy',
    source: 'builtin',
    effect: policy.effect,
    description: policy.description,
    cedar: policy.cedar,
    organization_id: null,
    created_at: null,
    updated_at: null,
    version: null,
  }
}

/** Code-unit order, the same order cursors compare in. */
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

const builtinViews = [...engine.builtinPolicies].sort(byId).map(builtinView)

export interface PolicyInput {
  cedar: string
  description?: string | undefined
}

/** Thrown when Cedar rejects a policy: 400 with every diagnostic and where it points. */
function invalidPolicy(diagnostics: engine.PolicyDiagnostic[]): AppError {
  const error = invalid(`The policy is not valid: ${diagnostics[0]?.message}`, 'cedar')
  error.details = { diagnostics }
  return error
}

/**
 * Checks a custom policy without storing it (`POST /v1/policies/validate`, and every PUT):
 * its size, then Cedar's strict validation against the schema (engine.checkCustomPolicy).
 */
export function checkPolicy(id: string | undefined, input: PolicyInput) {
  if (Buffer.byteLength(input.cedar, 'utf8') > MAX_POLICY_BYTES) {
    throw invalid(`A policy may be at most ${MAX_POLICY_BYTES} bytes long.`, 'cedar')
  }
  const check = engine.checkCustomPolicy(id, input.cedar, input.description)
  if (!check.ok) throw invalidPolicy(check.diagnostics)
  return { policy: check.policy, warnings: check.warnings }
}

/** Path words under /v1/policies that are not policy ids. */
const RESERVED_IDS = new Set(['schema', 'validate', 'simulate'])

function requirePolicyId(id: string): void {
  if (!POLICY_ID_PATTERN.test(id)) {
    throw invalid('Policy ids are 1 to 64 characters of a-z, 0-9 and "-".', 'id')
  }
  if (RESERVED_IDS.has(id)) throw invalid(`'${id}' is reserved; choose another id.`, 'id')
}

/** Built-in policies first (by id), then the organization's own (by id). */
export async function listPolicies(
  ctx: ServiceContext,
  organizationId: string,
  page: PageRequest,
  filter: { source?: PolicyView['source'] | undefined } = {}
): Promise<Page<PolicyView>> {
  const custom = (await customPolicies.all(ctx.db, organizationId)).sort(byId)
  const all: PolicyView[] = [...builtinViews, ...custom].filter(
    (policy) => filter.source === undefined || policy.source === filter.source
  )
  let start = 0
  if (page.after) {
    const after = decodePolicyCursor(page.after, organizationId)
    const index = all.findIndex(
      (policy) =>
        (policy.source === after.source && policy.id > after.id) ||
        (after.source === 'builtin' && policy.source === 'custom')
    )
    start = index === -1 ? all.length : index
  }
  const data = all.slice(start, start + page.limit)
  const last = data[data.length - 1]
  const hasMore = start + page.limit < all.length
  return {
    data,
    has_more: hasMore,
    next_cursor: hasMore && last ? encodePolicyCursor(organizationId, last.source, last.id) : null,
  }
}

function encodePolicyCursor(organizationId: string, source: string, id: string): string {
  return Buffer.from(JSON.stringify({ l: `policies:${organizationId}`, s: source, id })).toString(
    'base64url'
  )
}

function decodePolicyCursor(
  cursor: string,
  organizationId: string
): { source: 'builtin' | 'custom'; id: string } {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (
      parsed.l === `policies:${organizationId}` &&
      (parsed.s === 'builtin' || parsed.s === 'custom') &&
      typeof parsed.id === 'string'
    ) {
      return { source: parsed.s, id: parsed.id }
    }
  } catch {
    // fall through
  }
  throw invalid('The cursor does not belong to this listing.', 'after')
}

export async function getPolicy(
  ctx: ServiceContext,
  organizationId: string,
  id: string
): Promise<PolicyView> {
  const builtin = engine.builtinPolicies.find((policy) => policy.id === id)
  if (builtin) return builtinView(builtin)
  const stored = POLICY_ID_PATTERN.test(id)
    ? await customPolicies.get(ctx.db, organizationId, id)
    : undefined
  if (!stored) throw notFound('policy', id, 'id')
  return stored
}

/**
 * Creates or replaces a custom policy. It takes effect on the organization's next decision:
 * the policy revision is bumped after the write, so every instance re-reads the
 * organization's policies before deciding again (docs/authorization.md).
 */
export async function putPolicy(
  ctx: ServiceContext,
  organizationId: string,
  id: string,
  input: PolicyInput,
  /** If-Match: a version, or 'any' (`*`); either requires the policy to exist (RFC 9110). */
  expectedVersion?: number | 'any'
): Promise<{ policy: CustomPolicy; created: boolean }> {
  requirePolicyId(id)
  if (engine.isBuiltinPolicyId(id)) {
    throw conflict(
      `'${id}' is a built-in policy and cannot be replaced; add a custom forbid to restrict what it allows.`,
      'id'
    )
  }
  const { policy } = checkPolicy(id, input)
  const now = ctx.clock.now().toISOString()
  const existing = await customPolicies.get(ctx.db, organizationId, id)
  if (!existing) {
    if (expectedVersion !== undefined) {
      throw preconditionFailed('There is no policy to match If-Match against.')
    }
    const count = (await customPolicies.all(ctx.db, organizationId)).length
    if (count >= MAX_CUSTOM_POLICIES) {
      throw conflict(
        `An organization may have at most ${MAX_CUSTOM_POLICIES} custom policies; delete one first.`
      )
    }
    const created: CustomPolicy = {
      id,
      object: 'policy',
      organization_id: organizationId,
      source: 'custom',
      effect: policy.effect,
      description: policy.description,
      cedar: policy.cedar,
      created_at: now,
      updated_at: now,
      version: 1,
    }
    try {
      await customPolicies.create(ctx.db, created)
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error
      // Created concurrently: replace it like any existing policy.
      return putPolicy(ctx, organizationId, id, input, expectedVersion)
    }
    await policyChanged(ctx, organizationId, 'policy.created', id, null, created)
    return { policy: created, created: true }
  }
  const result = await updateVersioned<CustomPolicy>({
    load: () => customPolicies.get(ctx.db, organizationId, id),
    missing: () => notFound('policy', id, 'id'),
    expectedVersion: expectedVersion === 'any' ? undefined : expectedVersion,
    apply: (current) =>
      current.cedar === policy.cedar && current.description === policy.description
        ? undefined
        : {
            ...current,
            effect: policy.effect,
            description: policy.description,
            cedar: policy.cedar,
            updated_at: now,
          },
    save: (next, version) => customPolicies.save(ctx.db, next, version),
  })
  if (result.changed) {
    await policyChanged(ctx, organizationId, 'policy.updated', id, result.before, result.after)
  }
  return { policy: result.after, created: false }
}

export async function deletePolicy(
  ctx: ServiceContext,
  organizationId: string,
  id: string,
  expectedVersion?: number
): Promise<{ object: 'policy.deleted'; id: string; deleted: true }> {
  if (engine.isBuiltinPolicyId(id)) {
    throw conflict(
      `'${id}' is a built-in policy and cannot be deleted; add a custom forbid to restrict what it allows.`,
      'id'
    )
  }
  const existing = POLICY_ID_PATTERN.test(id)
    ? await customPolicies.get(ctx.db, organizationId, id)
    : undefined
  if (!existing) throw notFound('policy', id, 'id')
  if (expectedVersion !== undefined && existing.version !== expectedVersion) {
    throw staleVersion('policy', existing.version, expectedVersion)
  }
  if (!(await customPolicies.remove(ctx.db, organizationId, id, expectedVersion))) {
    if (expectedVersion !== undefined) {
      throw preconditionFailed('The policy was changed by another request; read it again.')
    }
    throw notFound('policy', id, 'id')
  }
  await policyChanged(ctx, organizationId, 'policy.deleted', id, existing, null)
  return { object: 'policy.deleted', id, deleted: true }
}

async function policyChanged(
  ctx: ServiceContext,
  organizationId: string,
  eventType: string,
  id: string,
  before: CustomPolicy | null,
  after: CustomPolicy | null
): Promise<void> {
  await revisions.bump(ctx.db, organizationId, { policies: true })
  const audit = await recordAudit(ctx, organizationId, {
    event_type: eventType,
    target: { type: 'policy', id },
    before,
    after,
  })
  await emitWebhookEvent(ctx, organizationId, {
    type: 'policy.changed',
    id: eventIdFor(audit.id),
    data: { change: eventType.slice('policy.'.length), policy_id: id, before, after },
  })
}

/** The Cedar schema custom policies are validated against, as text and as JSON. */
export function policySchema() {
  return { object: 'policy_schema' as const, cedar: engine.schemaText, json: engine.schemaJson }
}
