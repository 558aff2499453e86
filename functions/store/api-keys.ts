import type { ApiKey } from '../model/index.js'
import { Collection } from './collection.js'
import { ConditionFailedError, type Db, type Expression, type Item } from './db.js'
import { keys } from './keys.js'
import type { Page, PageRequest } from './pagination.js'

interface ApiKeyInternal extends Item {
  secret_hash: string
  /** The previous secret's hash while a rotation is finishing (its credential still exists). */
  retiring_secret_hash?: string
}

const collection = new Collection<ApiKey, ApiKeyInternal>(
  'api-keys',
  keys.apiKey,
  (orgId) => keys.organization(orgId).PK,
  keys.apiKeyPrefix,
  ['secret_hash', 'retiring_secret_hash']
)

export interface ApiKeyFilter {
  workspace_id?: string | undefined
  member_id?: string | undefined
  status?: ApiKey['status'] | undefined
}

/** At most one last_used_at write per key per this many ms (introspection is hot). */
const LAST_USED_RESOLUTION_MS = 60_000

/**
 * Workspace API keys: `ORG#o` / `KEY#k`, holding the secret's hash (its credential is
 * `CRED#<hash>`). A key owned by a member is also under GSI1 `MEMKEYS#o#m`, so removing the
 * member finds its keys.
 */
export const apiKeys = {
  async create(db: Db, key: ApiKey, secretHash: string): Promise<void> {
    await collection.create(db, key.organization_id, key, {
      secret_hash: secretHash,
      ...(key.member_id
        ? { GSI1PK: keys.apiKeysOfMember(key.organization_id, key.member_id), GSI1SK: key.id }
        : {}),
    })
  },

  get(db: Db, orgId: string, keyId: string) {
    return collection.getWithInternal(db, orgId, keyId)
  },

  async remove(db: Db, orgId: string, keyId: string): Promise<void> {
    await collection.remove(db, orgId, keyId)
  },

  list(db: Db, orgId: string, page: PageRequest, filter: ApiKeyFilter): Promise<Page<ApiKey>> {
    const parts: string[] = []
    const names: Record<string, string> = {}
    const values: Record<string, unknown> = {}
    for (const [field, value] of Object.entries(filter)) {
      if (value === undefined) continue
      names[`#${field}`] = field
      values[`:${field}`] = value
      parts.push(`#${field} = :${field}`)
    }
    const expression: Expression | undefined = parts.length
      ? { expression: parts.join(' AND '), names, values }
      : undefined
    return collection.list(db, orgId, page, expression ? { filter: expression } : {})
  },

  /** Ids of the keys a member owns (GSI1, eventually consistent). */
  async idsOfMember(db: Db, orgId: string, memberId: string): Promise<string[]> {
    const items = await db.queryAll({
      index: 'GSI1',
      partition: keys.apiKeysOfMember(orgId, memberId),
    })
    return items.map((item) => item.GSI1SK as string)
  },

  /** Marks the key revoked (keeping the record for audit). */
  async markRevoked(db: Db, orgId: string, keyId: string, at: string): Promise<void> {
    await db.update(
      keys.apiKey(orgId, keyId),
      {
        expression: 'SET #status = :revoked, revoked_at = :at',
        names: { '#status': 'status' },
        values: { ':revoked': 'revoked', ':at': at },
      },
      { expression: 'attribute_exists(PK)' }
    )
  },

  /**
   * Swaps in a new secret if the stored one is still `oldHash` and the key is active; the old
   * hash is kept as `retiring_secret_hash` until its credential is deleted.
   */
  async swapSecret(
    db: Db,
    orgId: string,
    keyId: string,
    oldHash: string,
    newHash: string,
    redactedValue: string,
    at: string
  ): Promise<boolean> {
    try {
      await db.update(
        keys.apiKey(orgId, keyId),
        {
          expression:
            'SET secret_hash = :new, retiring_secret_hash = :old, redacted_value = :redacted, rotated_at = :at',
          values: { ':new': newHash, ':redacted': redactedValue, ':at': at },
        },
        {
          expression: 'secret_hash = :old AND #status = :active',
          names: { '#status': 'status' },
          values: { ':old': oldHash, ':active': 'active' },
        }
      )
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },

  /** Forgets the retiring hash once its credential is gone. */
  async clearRetiring(db: Db, orgId: string, keyId: string, hash: string): Promise<void> {
    try {
      await db.update(
        keys.apiKey(orgId, keyId),
        { expression: 'REMOVE retiring_secret_hash' },
        { expression: 'retiring_secret_hash = :hash', values: { ':hash': hash } }
      )
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error
    }
  },

  /**
   * Records a use of the key (called when a product introspects it). Written at most once per
   * minute per key, so a hot key costs no more than one write a minute.
   */
  async touchLastUsed(db: Db, orgId: string, keyId: string, now: Date): Promise<void> {
    const threshold = new Date(now.getTime() - LAST_USED_RESOLUTION_MS).toISOString()
    try {
      await db.update(
        keys.apiKey(orgId, keyId),
        { expression: 'SET last_used_at = :now', values: { ':now': now.toISOString() } },
        {
          expression:
            'attribute_exists(PK) AND (attribute_not_exists(last_used_at) OR ' +
            'attribute_type(last_used_at, :null) OR last_used_at <= :threshold)',
          values: { ':threshold': threshold, ':null': 'NULL' },
        }
      )
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error
    }
  },
}
