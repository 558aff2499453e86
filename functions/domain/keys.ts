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
import type { Page, PageRequest } from '../store/pagination.js'
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

// ----- Records that hold a secret --------------------------------------------------------

/**
 * Admin keys, SCIM tokens and service keys are one kind of thing: a record shown with its
 * secret once, at creation, listed without it, and revoked by deleting its credential. They
 * differ only in what the record and its credential hold and in whether an organization's
 * audit log sees them. `scope` is the owning organization's id ('' for the deployment-wide
 * service keys).
 */
export interface SecretHolders<T, Input> {
  create(ctx: ServiceContext, scope: string, input: Input): Promise<WithSecret<T>>
  list(ctx: ServiceContext, scope: string, page: PageRequest): Promise<Page<T>>
  /** Revokes the record (its secret stops working at once); revoking twice changes nothing. */
  revoke(ctx: ServiceContext, scope: string, id: string): Promise<T>
}

interface SecretHolderKind<T extends RevocableRecord, Input> {
  collection: Collection<T, SecretRef>
  secret: SecretKind
  /** How a 404 names it. */
  what: string
  /** The audit target type; none for deployment-wide records (in no organization's log). */
  audited?: string
  record(ctx: ServiceContext, scope: string, input: Input, secret: string, now: Date): T
  credential(record: T): Credential
}

function secretHolders<T extends RevocableRecord, Input>(
  kind: SecretHolderKind<T, Input>
): SecretHolders<T, Input> {
  const auditIn = (scope: string) =>
    kind.audited === undefined ? undefined : { organizationId: scope, target: kind.audited }
  return {
    async create(ctx, scope, input) {
      const now = ctx.clock.now()
      const secret = generateSecret(kind.secret)
      const record = kind.record(ctx, scope, input, secret, now)
      await kind.collection.create(ctx.db, scope, record, { secret_hash: hashSecret(secret) })
      await storeCredential(ctx.db, secret, kind.credential(record), () =>
        kind.collection.remove(ctx.db, scope, record.id)
      )
      const audit = auditIn(scope)
      if (audit) {
        await recordAudit(ctx, audit.organizationId, {
          event_type: `${audit.target}.created`,
          target: { type: audit.target, id: record.id },
          after: record,
        })
      }
      return { ...record, secret }
    },
    list: (ctx, scope, page) => kind.collection.list(ctx.db, scope, page),
    revoke: (ctx, scope, id) =>
      revokeSecretHolder(ctx, kind.collection, scope, id, kind.what, auditIn(scope)),
  }
}

export interface NewAdminKey {
  name: string
  org_roles: OrgRole[]
  expires_at?: string | null | undefined
}

/** Admin keys of an organization, holding organization roles. */
export const ADMIN_KEYS = secretHolders<AdminKey, NewAdminKey>({
  collection: adminKeys,
  secret: 'admin',
  what: 'admin key',
  audited: 'admin_key',
  record: (ctx, organizationId, input, secret, now) => ({
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
  }),
  credential: (key) => ({
    kind: 'admin',
    key_id: key.id,
    organization_id: key.organization_id,
    org_roles: key.org_roles,
    expires_at: key.expires_at,
  }),
})

/** SCIM tokens for identity providers: one may call /scim/v2 of its organization only. */
export const SCIM_TOKENS = secretHolders<ScimToken, { name: string }>({
  collection: scimTokens,
  secret: 'scim',
  what: 'SCIM token',
  audited: 'scim_token',
  record: (ctx, organizationId, { name }, secret, now) => ({
    id: newId('scimToken', now),
    object: 'scim_token',
    organization_id: organizationId,
    name,
    redacted_value: redactSecret(secret),
    status: 'active',
    created_by: ctx.actor,
    created_at: now.toISOString(),
    revoked_at: null,
  }),
  credential: (token) => ({
    kind: 'scim',
    key_id: token.id,
    organization_id: token.organization_id,
  }),
})

/** Service keys of first-party products: deployment-wide, so in no organization's audit log. */
export const SERVICE_KEYS = secretHolders<ServiceKey, { name: string }>({
  collection: serviceKeys,
  secret: 'service',
  what: 'service key',
  record: (_ctx, _scope, { name }, secret, now) => ({
    id: newId('serviceKey', now),
    object: 'service_key',
    name,
    redacted_value: redactSecret(secret),
    status: 'active',
    created_at: now.toISOString(),
    revoked_at: null,
  }),
  credential: (key) => ({ kind: 'service', key_id: key.id }),
})

export function createAdminKey(
  ctx: ServiceContext,
  organizationId: string,
  input: NewAdminKey
): Promise<WithSecret<AdminKey>> {
  return ADMIN_KEYS.create(ctx, organizationId, input)
}

export function createServiceKey(
  ctx: ServiceContext,
  name: string
): Promise<WithSecret<ServiceKey>> {
  return SERVICE_KEYS.create(ctx, '', { name })
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
 * expired secret. One GetItem by the secret's hash, cached for at most a second (a revocation
 * through this process is seen at once); the operator key is compared in constant time.
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
  const credential = await credentials.findCached(db, hashSecret(secret), now)
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
