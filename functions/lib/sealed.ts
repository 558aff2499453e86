import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

/**
 * Symmetric sealing with a key derived (HKDF-SHA256) from a client-held secret, e.g. an
 * Idempotency-Key. The server stores only the ciphertext and a hash of the secret, so a stored
 * replay (which may contain a newly created key's secret) is unreadable without the client's key.
 */
function deriveKey(secret: string, salt: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, salt, 'admin-engine/sealed/v1', 32))
}

export function seal(plaintext: string, secret: string, salt: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', deriveKey(secret, salt), iv)
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return [iv, cipher.getAuthTag(), body].map((part) => part.toString('base64url')).join('.')
}

export function unseal(sealed: string, secret: string, salt: string): string {
  const [iv, tag, body] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'))
  if (!iv || !tag || !body) throw new Error('malformed sealed value')
  const decipher = createDecipheriv('aes-256-gcm', deriveKey(secret, salt), iv)
  decipher.setAuthTag(tag)
  return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8')
}
