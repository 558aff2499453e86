import type { Invite } from '../model/index.js'
import { Collection } from './collection.js'
import { ConditionFailedError, type Db, type Item } from './db.js'
import { keys } from './keys.js'

/**
 * `accepting` is set when an accept starts (so a revoke cannot race it) and is reported as
 * `pending`; a retried accept finishes it.
 */
export type StoredInviteStatus = Invite['status'] | 'accepting'

interface InviteInternal extends Item {
  token_hash: string
}

/** Invites of an organization: `ORG#o` / `INV#i`; the token's hash is kept on the item. */
const collection = new Collection<Invite, InviteInternal>(
  'invites',
  keys.invite,
  (orgId) => keys.organization(orgId).PK,
  keys.invitePrefix,
  ['token_hash']
)

export const invites = {
  collection,

  async create(db: Db, invite: Invite, tokenHash: string): Promise<void> {
    await collection.create(db, invite.organization_id, invite, { token_hash: tokenHash })
  },

  async get(db: Db, orgId: string, inviteId: string) {
    return collection.getWithInternal(db, orgId, inviteId)
  },

  /**
   * Moves the invite from one of `from` to `to` (with the given extra fields); false when its
   * stored status is not one of `from` (someone else accepted or revoked it first).
   */
  async transition(
    db: Db,
    orgId: string,
    inviteId: string,
    from: StoredInviteStatus[],
    to: StoredInviteStatus,
    fields: Record<string, unknown> = {}
  ): Promise<boolean> {
    const names: Record<string, string> = { '#status': 'status' }
    const values: Record<string, unknown> = { ':to': to }
    const sets = ['#status = :to']
    Object.entries(fields).forEach(([name, value], index) => {
      names[`#f${index}`] = name
      values[`:f${index}`] = value
      sets.push(`#f${index} = :f${index}`)
    })
    const fromValues = Object.fromEntries(from.map((status, i) => [`:from${i}`, status]))
    try {
      await db.update(
        keys.invite(orgId, inviteId),
        { expression: `SET ${sets.join(', ')}`, names, values },
        {
          expression: `#status IN (${Object.keys(fromValues).join(', ')})`,
          values: fromValues,
        }
      )
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },
}

/**
 * Invite tokens by hash: `INVTOKEN#<sha256>` / `INVTOKEN` → the invite. Kept (with a TTL) after
 * the invite is used, revoked or expired, so accepting it again gets a clear error.
 */
export const inviteTokens = {
  async put(
    db: Db,
    tokenHash: string,
    ref: { organization_id: string; invite_id: string },
    expiresAtEpoch: number
  ): Promise<void> {
    await db.create({ ...keys.inviteToken(tokenHash), ...ref, expires_at_epoch: expiresAtEpoch })
  },

  async find(
    db: Db,
    tokenHash: string,
    now: Date
  ): Promise<{ organization_id: string; invite_id: string } | undefined> {
    const item = await db.get(keys.inviteToken(tokenHash))
    if (!item || (item.expires_at_epoch as number) * 1000 <= now.getTime()) return undefined
    return { organization_id: item.organization_id as string, invite_id: item.invite_id as string }
  },

  async remove(db: Db, tokenHash: string): Promise<void> {
    await db.delete(keys.inviteToken(tokenHash))
  },
}
