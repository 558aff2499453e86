import { DAY_MS } from '../lib/clock.js'
import { conflict, invalid, notFound } from '../lib/errors.js'
import { newId } from '../lib/ids.js'
import { generateSecret, hashSecret, redactSecret, secretKindOf } from '../lib/secrets.js'
import type { ApiKey, Credential } from '../model/index.js'
import { type ApiKeyFilter, apiKeys } from '../store/api-keys.js'
import { credentials } from '../store/credentials.js'
import { members } from '../store/members.js'
import { organizations } from '../store/organizations.js'
import type { PageRequest } from '../store/pagination.js'
import { workspaces } from '../store/workspaces.js'
import { emitWebhookEvent, eventIdFor } from '../webhooks/events.js'
import { recordAudit } from './audit.js'
import type { ServiceContext } from './context.js'
import type { WithSecret } from './keys.js'

export interface NewApiKey {
  name: string
  workspace_id: string
  member_id?: string | null | undefined
  expires_at?: string | null | undefined
}

/**
 * The expiry a new key gets: the requested one, or none; either way no later than the
 * organization's api_key_max_validity_days allows (a missing or too-late expiry is clamped to
 * the latest allowed date, as Mistral's key policy does).
 */
export function clampExpiry(
  requested: string | null | undefined,
  now: Date,
  maxValidityDays: number | null
): string | null {
  const wanted = requested ? Date.parse(requested) : undefined
  if (wanted !== undefined && wanted <= now.getTime()) {
    throw invalid('expires_at must be in the future.', 'expires_at')
  }
  const latest = maxValidityDays === null ? undefined : now.getTime() + maxValidityDays * DAY_MS
  const chosen =
    wanted === undefined ? latest : latest === undefined ? wanted : Math.min(wanted, latest)
  return chosen === undefined ? null : new Date(chosen).toISOString()
}

function credentialOf(key: ApiKey): Credential {
  return {
    kind: 'api_key',
    key_id: key.id,
    organization_id: key.organization_id,
    workspace_id: key.workspace_id,
    ...(key.member_id ? { member_id: key.member_id } : {}),
    expires_at: key.expires_at,
  }
}

async function requireKey(ctx: ServiceContext, organizationId: string, keyId: string) {
  const found = await apiKeys.get(ctx.db, organizationId, keyId)
  if (!found) throw notFound('API key', keyId, 'id')
  return found
}

export async function createApiKey(
  ctx: ServiceContext,
  organizationId: string,
  input: NewApiKey
): Promise<WithSecret<ApiKey>> {
  const now = ctx.clock.now()
  const [organization, workspace] = await Promise.all([
    organizations.get(ctx.db, organizationId),
    workspaces.get(ctx.db, organizationId, input.workspace_id),
  ])
  if (!organization) throw notFound('organization', organizationId)
  if (!workspace) throw notFound('workspace', input.workspace_id, 'workspace_id')
  if (workspace.status === 'archived') {
    throw conflict('The workspace is archived; unarchive it to create keys.', 'workspace_id')
  }
  const memberId = input.member_id ?? null
  if (memberId) await requireActiveMember(ctx, organizationId, memberId)
  const secret = generateSecret('apiKey')
  const key: ApiKey = {
    id: newId('apiKey', now),
    object: 'api_key',
    organization_id: organizationId,
    workspace_id: workspace.id,
    member_id: memberId,
    name: input.name,
    redacted_value: redactSecret(secret),
    status: 'active',
    created_by: ctx.actor,
    created_at: now.toISOString(),
    expires_at: clampExpiry(input.expires_at, now, organization.settings.api_key_max_validity_days),
    last_used_at: null,
    rotated_at: null,
    revoked_at: null,
  }
  const secretHash = hashSecret(secret)
  await apiKeys.create(ctx.db, key, secretHash)
  try {
    await credentials.put(ctx.db, secretHash, credentialOf(key))
  } catch (error) {
    // No half-created key stays behind.
    await apiKeys.remove(ctx.db, organizationId, key.id).catch(() => undefined)
    throw error
  }
  // A member removed meanwhile may have missed this key in its cascade: take it back.
  if (memberId && (await members.find(ctx.db, organizationId, memberId))?.state !== 'ready') {
    await revokeApiKey(ctx, organizationId, key.id)
    throw notFound('member', memberId, 'member_id')
  }
  await recordAudit(ctx, organizationId, {
    event_type: 'api_key.created',
    target: { type: 'api_key', id: key.id },
    workspace_id: key.workspace_id,
    after: key,
  })
  return { ...key, secret }
}

async function requireActiveMember(ctx: ServiceContext, organizationId: string, memberId: string) {
  const stored = await members.find(ctx.db, organizationId, memberId)
  if (stored?.state !== 'ready') throw notFound('member', memberId, 'member_id')
  if (stored.member.status !== 'active') {
    throw conflict('The member is deactivated.', 'member_id')
  }
}

export function listApiKeys(
  ctx: ServiceContext,
  organizationId: string,
  page: PageRequest,
  filter: ApiKeyFilter
) {
  return apiKeys.list(ctx.db, organizationId, page, filter)
}

export async function getApiKey(
  ctx: ServiceContext,
  organizationId: string,
  keyId: string
): Promise<ApiKey> {
  return (await requireKey(ctx, organizationId, keyId)).record
}

/**
 * Revokes a key: its credentials go first (a retry converges), then the record is marked; the
 * credentials are looked up once more afterwards, because a rotation that finished in between
 * swapped the secret (no rotation can finish after the mark: it needs an active key).
 */
export async function revokeApiKey(
  ctx: ServiceContext,
  organizationId: string,
  keyId: string
): Promise<ApiKey> {
  const { record: key, internal } = await requireKey(ctx, organizationId, keyId)
  const removeCredentials = async (hashes: (string | undefined)[]) => {
    for (const hash of hashes) if (hash) await credentials.remove(ctx.db, hash)
  }
  await removeCredentials([internal.secret_hash, internal.retiring_secret_hash])
  if (key.status === 'revoked') return key
  const at = ctx.clock.now().toISOString()
  await apiKeys.markRevoked(ctx.db, organizationId, keyId, at)
  const after = await requireKey(ctx, organizationId, keyId)
  await removeCredentials([after.internal.secret_hash, after.internal.retiring_secret_hash])
  const audit = await recordAudit(ctx, organizationId, {
    event_type: 'api_key.revoked',
    target: { type: 'api_key', id: keyId },
    workspace_id: key.workspace_id,
    before: key,
    after: after.record,
  })
  await emitWebhookEvent(ctx, organizationId, {
    type: 'api_key.revoked',
    id: eventIdFor(audit.id),
    data: { api_key: after.record },
  })
  return after.record
}

/**
 * Gives the key a new secret; the old one stops working. Order: the new credential, then the
 * swap on the key item (conditional on the old hash, so concurrent rotations cannot both win),
 * then the old credential is deleted. The old hash stays on the item as `retiring_secret_hash`
 * until then, so a crash in between is finished by the next rotation or revocation.
 */
export async function rotateApiKey(
  ctx: ServiceContext,
  organizationId: string,
  keyId: string
): Promise<WithSecret<ApiKey>> {
  const now = ctx.clock.now()
  const { record: key, internal } = await requireKey(ctx, organizationId, keyId)
  if (key.status === 'revoked') throw conflict('A revoked key cannot be rotated.', 'id')
  if (key.expires_at && Date.parse(key.expires_at) <= now.getTime()) {
    throw conflict('An expired key cannot be rotated.', 'id')
  }
  if (internal.retiring_secret_hash) {
    await credentials.remove(ctx.db, internal.retiring_secret_hash)
    await apiKeys.clearRetiring(ctx.db, organizationId, keyId, internal.retiring_secret_hash)
  }
  const secret = generateSecret('apiKey')
  const newHash = hashSecret(secret)
  await credentials.put(ctx.db, newHash, credentialOf(key))
  const swapped = await apiKeys.swapSecret(
    ctx.db,
    organizationId,
    keyId,
    internal.secret_hash,
    newHash,
    redactSecret(secret),
    now.toISOString()
  )
  if (!swapped) {
    await credentials.remove(ctx.db, newHash)
    throw conflict('The key was rotated or revoked by another request; read it again.', 'id')
  }
  await credentials.remove(ctx.db, internal.secret_hash)
  await apiKeys.clearRetiring(ctx.db, organizationId, keyId, internal.secret_hash)
  const after = (await requireKey(ctx, organizationId, keyId)).record
  await recordAudit(ctx, organizationId, {
    event_type: 'api_key.rotated',
    target: { type: 'api_key', id: keyId },
    workspace_id: key.workspace_id,
    before: key,
    after,
  })
  return { ...after, secret }
}

/** Revokes every key a member owns (member removal). */
export async function revokeApiKeysOfMember(
  ctx: ServiceContext,
  organizationId: string,
  memberId: string
): Promise<void> {
  for (const keyId of await apiKeys.idsOfMember(ctx.db, organizationId, memberId)) {
    if (await apiKeys.get(ctx.db, organizationId, keyId)) {
      await revokeApiKey(ctx, organizationId, keyId)
    }
  }
}

/**
 * Records that a key was used: the introspection route calls this after a successful lookup.
 * Throttled to one write per key per minute in the store.
 */
export async function recordApiKeyUse(
  ctx: Pick<ServiceContext, 'db' | 'clock'>,
  organizationId: string,
  keyId: string
): Promise<void> {
  await apiKeys.touchLastUsed(ctx.db, organizationId, keyId, ctx.clock.now())
}

/** How often one process tries to record a key's use (the store lets one write a minute win). */
const LAST_USED_ATTEMPT_MS = 60_000
/** Keys whose use this process noted recently, per table client, oldest first (bounded). */
const lastUseAttempts = new WeakMap<object, Map<string, number>>()
const MAX_REMEMBERED_KEYS = 10_000

export interface ApiKeyIntrospection {
  active: boolean
  id?: string
  organization_id?: string
  workspace_id?: string
  member_id?: string | null
  expires_at?: string | null
}

/**
 * `POST /v1/api-keys/introspect`: what a workspace API key secret is, for products. Inactive
 * for anything but a known, unrevoked, unexpired `sk_` secret (one GetItem by its hash).
 * Whether the key may do something (archived workspace, its member deactivated, spend limit)
 * is a decision: ask `/v1/authorize` with the key as principal. A use is recorded as the key's
 * `last_used_at` at most once a minute: each process tries at most once a minute per key and
 * the store's condition lets one write a minute win, so a hot key costs no write per call.
 */
export async function introspectApiKey(
  ctx: Pick<ServiceContext, 'db' | 'clock'>,
  secret: string
): Promise<ApiKeyIntrospection> {
  if (secretKindOf(secret) !== 'apiKey') return { active: false }
  const now = ctx.clock.now()
  const credential = await credentials.find(ctx.db, hashSecret(secret), now)
  if (credential?.kind !== 'api_key' || !credential.organization_id) {
    return { active: false }
  }
  let attempts = lastUseAttempts.get(ctx.db)
  if (!attempts) {
    attempts = new Map()
    lastUseAttempts.set(ctx.db, attempts)
  }
  const previous = attempts.get(credential.key_id)
  if (previous === undefined || now.getTime() - previous >= LAST_USED_ATTEMPT_MS) {
    attempts.delete(credential.key_id)
    attempts.set(credential.key_id, now.getTime())
    if (attempts.size > MAX_REMEMBERED_KEYS) attempts.delete(attempts.keys().next().value!)
    await recordApiKeyUse(ctx, credential.organization_id, credential.key_id)
  }
  return {
    active: true,
    id: credential.key_id,
    organization_id: credential.organization_id,
    workspace_id: credential.workspace_id!,
    member_id: credential.member_id ?? null,
    expires_at: credential.expires_at ?? null,
  }
}
