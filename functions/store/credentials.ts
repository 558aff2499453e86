import type { AdminKey, Credential, ScimToken, ServiceKey } from '../model/index.js'
import { Collection } from './collection.js'
import type { Db } from './db.js'
import { keys } from './keys.js'

/** The hash of the key's secret is kept on the key's item so revocation can find the credential. */
export interface SecretRef extends Record<string, unknown> {
  secret_hash: string
}

/** Admin keys of an organization: `ORG#o` / `ADK#k`. */
export const adminKeys = new Collection<AdminKey, SecretRef>(
  'admin-keys',
  keys.adminKey,
  (orgId) => keys.organization(orgId).PK,
  keys.adminKeyPrefix,
  ['secret_hash']
)

/** SCIM tokens of an organization: `ORG#o` / `SCT#t`. */
export const scimTokens = new Collection<ScimToken, SecretRef>(
  'scim-tokens',
  keys.scimToken,
  (orgId) => keys.organization(orgId).PK,
  keys.scimTokenPrefix,
  ['secret_hash']
)

/** Deployment-wide service keys: `SERVICE_KEYS` / `SVK#k` (the scope argument is ignored). */
export const serviceKeys = new Collection<ServiceKey, SecretRef>(
  'service-keys',
  (_scope, id) => keys.serviceKey(id),
  () => keys.serviceKeysPartition,
  keys.serviceKeyPrefix,
  ['secret_hash']
)

/**
 * Credentials by secret hash: `CRED#<sha256>` / `CRED`. Authentication is one strongly
 * consistent GetItem, cached for at most a second (`findCached`). Revocation deletes the item; expiry is checked on read (TTL deletes late).
 */
export const credentials = {
  async put(db: Db, secretHash: string, credential: Credential): Promise<void> {
    const expiresAt = credential.expires_at ? Date.parse(credential.expires_at) : undefined
    await db.create({
      ...keys.credential(secretHash),
      ...credential,
      secret_hash: secretHash,
      ...(expiresAt ? { expires_at_epoch: Math.ceil(expiresAt / 1000) } : {}),
    })
  },

  /** The credential for a hash, unless it is absent or expired at `now`. */
  async find(db: Db, secretHash: string, now: Date): Promise<Credential | undefined> {
    const item = await db.get(keys.credential(secretHash))
    if (!item) return undefined
    const expiresAt = item.expires_at as string | null | undefined
    if (isExpired(expiresAt, now)) return undefined
    return {
      kind: item.kind as Credential['kind'],
      key_id: item.key_id as string,
      ...(item.organization_id ? { organization_id: item.organization_id as string } : {}),
      ...(item.org_roles ? { org_roles: item.org_roles as Credential['org_roles'] } : {}),
      ...(item.workspace_id ? { workspace_id: item.workspace_id as string } : {}),
      ...(item.member_id ? { member_id: item.member_id as string } : {}),
      expires_at: expiresAt ?? null,
    }
  },

  /**
   * `find` through a process-local cache, for authentication on the hot path: a credential
   * read in the last `CREDENTIAL_CACHE_MS` is used without asking the table again. A removal
   * through this process (revocation, rotation) takes effect at once; one made by another
   * instance within `CREDENTIAL_CACHE_MS`. Expiry is still checked against `now` on every use.
   * Unknown secrets are not cached (no table of guesses to fill).
   */
  async findCached(db: Db, secretHash: string, now: Date): Promise<Credential | undefined> {
    const cache = credentialCache(db)
    const hit = cache.entries.get(secretHash)
    const started = performance.now()
    if (hit && started - hit.readAt < CREDENTIAL_CACHE_MS) {
      return isExpired(hit.credential.expires_at, now) ? undefined : hit.credential
    }
    const removalsBefore = cache.removals
    const credential = await credentials.find(db, secretHash, now)
    cache.entries.delete(secretHash)
    // A removal while the read was in flight may have been read before it: do not keep that.
    if (credential && cache.removals === removalsBefore) {
      cache.entries.set(secretHash, { credential, readAt: started })
      if (cache.entries.size > MAX_CACHED_CREDENTIALS) {
        cache.entries.delete(cache.entries.keys().next().value!)
      }
    }
    return credential
  },

  async remove(db: Db, secretHash: string): Promise<void> {
    const cache = credentialCache(db)
    cache.removals++
    cache.entries.delete(secretHash)
    try {
      await db.delete(keys.credential(secretHash))
    } finally {
      // Reads that began before the delete landed must not be cached either.
      cache.removals++
      cache.entries.delete(secretHash)
    }
  },
}

/** How long (ms) an authenticated credential is trusted without reading it again. */
export const CREDENTIAL_CACHE_MS = 1000
const MAX_CACHED_CREDENTIALS = 10_000

interface CredentialCache {
  entries: Map<string, { credential: Credential; readAt: number }>
  /** Counts removals, so a read that overlapped one is not cached. */
  removals: number
}

/** Per table client (shared by its wrappers), like the revisions this process knows. */
const credentialCaches = new WeakMap<Db, CredentialCache>()

function credentialCache(db: Db): CredentialCache {
  let cache = credentialCaches.get(db.cacheIdentity)
  if (!cache) {
    cache = { entries: new Map(), removals: 0 }
    credentialCaches.set(db.cacheIdentity, cache)
  }
  return cache
}

function isExpired(expiresAt: string | null | undefined, now: Date): boolean {
  return !!expiresAt && Date.parse(expiresAt) <= now.getTime()
}
