import { monotonicFactory } from 'ulid'

/** Prefixes of every id the API hands out (see the contract's "IDs" section). */
export const ID_PREFIXES = {
  organization: 'org',
  workspace: 'ws',
  member: 'mem',
  group: 'grp',
  invite: 'inv',
  apiKey: 'key',
  adminKey: 'adk',
  serviceKey: 'svk',
  scimToken: 'sct',
  auditEvent: 'evt',
  run: 'run',
  budgetAlert: 'bal',
  decision: 'dec',
  webhookEndpoint: 'whk',
  webhookEvent: 'msg',
} as const

export type IdKind = keyof typeof ID_PREFIXES

// Monotonic so that ids minted in the same millisecond still sort in creation order.
const nextUlid = monotonicFactory()

export function newId(kind: IdKind, now: Date = new Date()): string {
  return `${ID_PREFIXES[kind]}_${nextUlid(now.getTime())}`
}

/** A bare ULID (no prefix), for internal identifiers such as journal slots. */
export function newUlid(now: Date = new Date()): string {
  return nextUlid(now.getTime())
}

const ULID_BODY = /^[0-9A-HJKMNP-TV-Z]{26}$/

/** True when `id` has the prefix of `kind` followed by a well-formed ULID. */
export function isIdOf(kind: IdKind, id: string): boolean {
  const prefix = `${ID_PREFIXES[kind]}_`
  return id.startsWith(prefix) && ULID_BODY.test(id.slice(prefix.length))
}

/** The length of every id of `kind` (prefix, underscore, 26 ULID characters). */
export function idLength(kind: IdKind): number {
  return ID_PREFIXES[kind].length + 1 + 26
}
