import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  constantTimeEqual,
  generateSecret,
  hashSecret,
  redactSecret,
  SECRET_PREFIXES,
  type SecretKind,
  secretKindOf,
} from './secrets.js'

const KINDS = Object.keys(SECRET_PREFIXES) as SecretKind[]

describe('generateSecret', () => {
  it('is the kind prefix and 32 random bytes in base64url, and names its own kind', () => {
    for (const kind of KINDS) {
      const secret = generateSecret(kind)
      const body = secret.slice(SECRET_PREFIXES[kind].length)
      expect(secret.startsWith(SECRET_PREFIXES[kind])).toBe(true)
      expect(body).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(Buffer.from(body, 'base64url')).toHaveLength(32)
      expect(secretKindOf(secret)).toBe(kind)
    }
  })

  it('never repeats', () => {
    const secrets = new Set(Array.from({ length: 1000 }, () => generateSecret('apiKey')))
    expect(secrets.size).toBe(1000)
  })
})

describe('secretKindOf', () => {
  it('does not guess a kind for a secret without a known prefix', () => {
    for (const secret of ['', 'sk', 'SK_abc', 'op-abc', 'bearer sk_abc', 'adk_abc', 'scim']) {
      expect(secretKindOf(secret)).toBeUndefined()
    }
  })
})

describe('hashSecret', () => {
  it('is the hex SHA-256 of the UTF-8 secret', () => {
    expect(hashSecret('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    )
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (secret) => {
        expect(hashSecret(secret)).toBe(
          createHash('sha256').update(Buffer.from(secret)).digest('hex')
        )
      })
    )
  })
})

describe('constantTimeEqual', () => {
  it('is string equality, for strings of any length and content', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        expect(constantTimeEqual(a, b)).toBe(a === b)
        expect(constantTimeEqual(a, a)).toBe(true)
      })
    )
    expect(constantTimeEqual('op_secret', 'op_secreT')).toBe(false)
    expect(constantTimeEqual('op_secret', 'op_secret ')).toBe(false)
    expect(constantTimeEqual('', '')).toBe(true)
  })
})

describe('redactSecret', () => {
  it('keeps the prefix and the last four characters only', () => {
    const secret = generateSecret('admin')
    expect(redactSecret(secret)).toBe(`adm_...${secret.slice(-4)}`)
    expect(redactSecret('unknown-kind-1234')).toBe('...1234')
  })

  it('never shows more of a generated secret than its prefix and four characters', () => {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), (kind) => {
        const secret = generateSecret(kind)
        const shown = redactSecret(secret).replace('...', '')
        expect(shown).toBe(SECRET_PREFIXES[kind] + secret.slice(-4))
      }),
      { numRuns: 50 }
    )
  })
})
