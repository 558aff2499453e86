import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** Credential kinds and the prefix their secrets carry (contract: "Credentials"). */
export const SECRET_PREFIXES = {
  operator: 'op_',
  service: 'svc_',
  admin: 'adm_',
  scim: 'scim_',
  apiKey: 'sk_',
  invite: 'invt_',
} as const

export type SecretKind = keyof typeof SECRET_PREFIXES

/** A new random secret: the kind's prefix and 32 random bytes (256 bits) in base64url. */
export function generateSecret(kind: SecretKind): string {
  return `${SECRET_PREFIXES[kind]}${randomBytes(32).toString('base64url')}`
}

/**
 * The stored form of a secret. Secrets are 256-bit random values, so an unsalted SHA-256 is
 * not brute-forceable; it lets a credential be found by a single key lookup.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex')
}

/** Constant-time equality of two strings (compared as UTF-8 digests of equal length). */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest()
  const db = createHash('sha256').update(b, 'utf8').digest()
  return timingSafeEqual(da, db) && a.length === b.length
}

/** Which credential kind a presented secret claims to be, from its prefix. */
export function secretKindOf(secret: string): SecretKind | undefined {
  for (const [kind, prefix] of Object.entries(SECRET_PREFIXES)) {
    if (secret.startsWith(prefix)) return kind as SecretKind
  }
  return undefined
}

/** What lists show instead of a secret: its prefix and last four characters. */
export function redactSecret(secret: string): string {
  const kind = secretKindOf(secret)
  const prefix = kind ? SECRET_PREFIXES[kind] : ''
  return `${prefix}...${secret.slice(-4)}`
}
