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
 * consistent GetItem. Revocation deletes the item; expiry is checked on read (TTL deletes late).
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
    if (expiresAt && Date.parse(expiresAt) <= now.getTime()) return undefined
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

  async remove(db: Db, secretHash: string): Promise<void> {
    await db.delete(keys.credential(secretHash))
  },
}
