import { invalid, notFound } from '../lib/errors.js'
import { newId } from '../lib/ids.js'
import {
  constantTimeEqual,
  generateSecret,
  hashSecret,
  redactSecret,
  type SecretKind,
  secretKindOf,
} from '../lib/secrets.js'
import type {
  AdminKey,
  Credential,
  KeyStatus,
  OrgRole,
  ScimToken,
  ServiceKey,
} from '../model/index.js'
import type { Collection } from '../store/collection.js'
import {
  adminKeys,
  credentials,
  type SecretRef,
  scimTokens,
  serviceKeys,
} from '../store/credentials.js'
import type { Db } from '../store/db.js'
import type { PageRequest } from '../store/pagination.js'
import { recordAudit } from './audit.js'
import type { Principal, ServiceContext } from './context.js'

/** A key as returned once, at creation: the record and its secret. */
export type WithSecret<T> = T & { secret: string }

/**
 * Stores the credential for a new secret after its key record was written; if that fails,
 * the key record is removed again so no half-created key stays behind.
 */
async function storeCredential(
  db: Db,
  secret: string,
  credential: Credential,
  undo: () => Promise<void>
): Promise<void> {
  try {
    await credentials.put(db, hashSecret(secret), credential)
  } catch (error) {
    await undo().catch(() => undefined)
    throw error
  }
}

function futureExpiry(expiresAt: string | null | undefined, now: Date): string | null {
  if (!expiresAt) return null
  if (Date.parse(expiresAt) <= now.getTime()) {
    throw invalid('expires_at must be in the future.', 'expires_at')
  }
  return new Date(expiresAt).toISOString()
}

// ----- Admin keys ------------------------------------------------------------------------

export interface NewAdminKey {
  name: string
  org_roles: OrgRole[]
  expires_at?: string | null | undefined
}

export async function createAdminKey(
  ctx: ServiceContext,
  organizationId: string,
  input: NewAdminKey
): Promise<WithSecret<AdminKey>> {
  const now = ctx.clock.now()
  const secret = generateSecret('admin')
  const key: AdminKey = {
    id: newId('adminKey', now),
    object: 'admin_key',
    organization_id: organizationId,
    name: input.name,
    org_roles: [...new Set(input.org_roles)],
    redacted_value: redactSecret(secret),
    status: 'active',
    created_by: ctx.actor,
    created_at: now.toISOString(),
    expires_at: futureExpiry(input.expires_at, now),
    revoked_at: null,
  }
  await adminKeys.create(ctx.db, organizationId, key, { secret_hash: hashSecret(secret) })
  await storeCredential(
    ctx.db,
    secret,
    {
      kind: 'admin',
      key_id: key.id,
      organization_id: organizationId,
      org_roles: key.org_roles,
      expires_at: key.expires_at,
    },
    () => adminKeys.remove(ctx.db, organizationId, key.id)
  )
  await recordAudit(ctx, organizationId, {
    event_type: 'admin_key.created',
    target: { type: 'admin_key', id: key.id },
    after: key,
  })
  return { ...key, secret }
}

export function listAdminKeys(ctx: ServiceContext, organizationId: string, page: PageRequest) {
  return adminKeys.list(ctx.db, organizationId, page)
}

/** Revokes the key (its secret stops working at once); revoking twice changes nothing. */
export function revokeAdminKey(
  ctx: ServiceContext,
  organizationId: string,
  keyId: string
): Promise<AdminKey> {
  return revokeSecretHolder(ctx, adminKeys, organizationId, keyId, 'admin key', {
    organizationId,
    target: 'admin_key',
  })
}

// ----- SCIM tokens -------------------------------------------------------------------------

/** A SCIM token for an identity provider: it may call /scim/v2 of its organization only. */
export async function createScimToken(
  ctx: ServiceContext,
  organizationId: string,
  name: string
): Promise<WithSecret<ScimToken>> {
  const now = ctx.clock.now()
  const secret = generateSecret('scim')
  const token: ScimToken = {
    id: newId('scimToken', now),
    object: 'scim_token',
    organization_id: organizationId,
    name,
    redacted_value: redactSecret(secret),
    status: 'active',
    created_by: ctx.actor,
    created_at: now.toISOString(),
    revoked_at: null,
  }
  await scimTokens.create(ctx.db, organizationId, token, { secret_hash: hashSecret(secret) })
  await storeCredential(
    ctx.db,
    secret,
    { kind: 'scim', key_id: token.id, organization_id: organizationId },
    () => scimTokens.remove(ctx.db, organizationId, token.id)
  )
  await recordAudit(ctx, organizationId, {
    event_type: 'scim_token.created',
    target: { type: 'scim_token', id: token.id },
    after: token,
  })
  return { ...token, secret }
}

export function listScimTokens(ctx: ServiceContext, organizationId: string, page: PageRequest) {
  return scimTokens.list(ctx.db, organizationId, page)
}

/** Revokes the token (it stops working at once); revoking twice changes nothing. */
export function revokeScimToken(
  ctx: ServiceContext,
  organizationId: string,
  tokenId: string
): Promise<ScimToken> {
  return revokeSecretHolder(ctx, scimTokens, organizationId, tokenId, 'SCIM token', {
    organizationId,
    target: 'scim_token',
  })
}

// ----- Service keys ----------------------------------------------------------------------

export async function createServiceKey(
  ctx: ServiceContext,
  name: string
): Promise<WithSecret<ServiceKey>> {
  const now = ctx.clock.now()
  const secret = generateSecret('service')
  const key: ServiceKey = {
    id: newId('serviceKey', now),
    object: 'service_key',
    name,
    redacted_value: redactSecret(secret),
    status: 'active',
    created_at: now.toISOString(),
    revoked_at: null,
  }
  await serviceKeys.create(ctx.db, '', key, { secret_hash: hashSecret(secret) })
  await storeCredential(ctx.db, secret, { kind: 'service', key_id: key.id }, () =>
    serviceKeys.remove(ctx.db, '', key.id)
  )
  return { ...key, secret }
}

export function listServiceKeys(ctx: ServiceContext, page: PageRequest) {
  return serviceKeys.list(ctx.db, '', page)
}

/** Service keys are deployment-wide, so their revocation is in no organization's audit log. */
export function revokeServiceKey(ctx: ServiceContext, keyId: string): Promise<ServiceKey> {
  return revokeSecretHolder(ctx, serviceKeys, '', keyId, 'service key')
}

/**
 * Revokes a record that holds a secret (admin key, SCIM token, service key): the credential is
 * deleted first, so the secret stops working at once and a retry after a failure further on
 * converges on the same state; revoking twice changes nothing.
 */
async function revokeSecretHolder<T extends RevocableRecord>(
  ctx: ServiceContext,
  collection: Collection<T, SecretRef>,
  scope: string,
  id: string,
  what: string,
  audit?: { organizationId: string; target: string }
): Promise<T> {
  const found = await collection.getWithInternal(ctx.db, scope, id)
  if (!found) throw notFound(what, id, 'id')
  const { record, internal } = found
  await credentials.remove(ctx.db, internal.secret_hash)
  if (record.status === 'revoked') return record
  const revoked: T = { ...record, status: 'revoked', revoked_at: ctx.clock.now().toISOString() }
  await collection.replace(ctx.db, scope, revoked, { secret_hash: internal.secret_hash })
  if (audit) {
    await recordAudit(ctx, audit.organizationId, {
      event_type: `${audit.target}.revoked`,
      target: { type: audit.target, id },
      before: record,
      after: revoked,
    })
  }
  return revoked
}

interface RevocableRecord {
  id: string
  status: KeyStatus
  revoked_at: string | null
}

// ----- Authentication --------------------------------------------------------------------

const CREDENTIAL_KIND_OF_PREFIX: Partial<Record<SecretKind, Credential['kind']>> = {
  service: 'service',
  admin: 'admin',
  scim: 'scim',
  apiKey: 'api_key',
}

/**
 * Resolves a bearer secret to a principal, or undefined for a missing, unknown, revoked or
 * expired secret. One GetItem by the secret's hash; the operator key is compared in constant time.
 */
export async function authenticate(
  db: Db,
  now: Date,
  operatorKey: string,
  secret: string
): Promise<Principal | undefined> {
  const prefixKind = secretKindOf(secret)
  if (prefixKind === 'operator') {
    return constantTimeEqual(secret, operatorKey) ? { kind: 'operator', id: 'operator' } : undefined
  }
  const expectedKind = prefixKind && CREDENTIAL_KIND_OF_PREFIX[prefixKind]
  if (!expectedKind) return undefined
  const credential = await credentials.find(db, hashSecret(secret), now)
  if (!credential || credential.kind !== expectedKind) return undefined
  switch (credential.kind) {
    case 'service':
      return { kind: 'service', id: credential.key_id }
    case 'admin':
      return {
        kind: 'admin',
        id: credential.key_id,
        organizationId: credential.organization_id!,
        orgRoles: credential.org_roles ?? [],
      }
    case 'scim':
      return { kind: 'scim', id: credential.key_id, organizationId: credential.organization_id! }
    case 'api_key':
      return { kind: 'api_key', id: credential.key_id, organizationId: credential.organization_id! }
  }
}
