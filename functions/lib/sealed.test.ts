import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { seal, unseal } from './sealed.js'

describe('seal / unseal', () => {
  it('returns any text sealed with the same secret and salt', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 300 }),
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.string({ maxLength: 32 }),
        (text, secret, salt) => {
          expect(unseal(seal(text, secret, salt), secret, salt)).toBe(text)
        }
      ),
      { numRuns: 200 }
    )
  })

  it('seals the same text differently each time (random IV) and hides it', () => {
    const a = seal('{"secret":"sk_abc"}', 'idem-key', 'org_1')
    const b = seal('{"secret":"sk_abc"}', 'idem-key', 'org_1')
    expect(a).not.toBe(b)
    expect(a).not.toContain('sk_abc')
    expect(Buffer.from(a.split('.')[2]!, 'base64url').toString()).not.toContain('sk_abc')
  })

  it('refuses another secret or another salt', () => {
    const sealed = seal('replay body', 'client-key', 'org_1')
    expect(() => unseal(sealed, 'client-kez', 'org_1')).toThrow()
    expect(() => unseal(sealed, 'client-key', 'org_2')).toThrow()
  })

  it('refuses a sealed value changed in any of its parts', () => {
    const sealed = seal('replay body', 'client-key', 'org_1')
    const parts = sealed.split('.')
    for (let part = 0; part < 3; part++) {
      const bytes = Buffer.from(parts[part]!, 'base64url')
      bytes[0] = bytes[0]! ^ 1
      const changed = parts.map((p, i) => (i === part ? bytes.toString('base64url') : p)).join('.')
      expect(() => unseal(changed, 'client-key', 'org_1')).toThrow()
    }
  })

  it('refuses a value that is not three parts', () => {
    expect(() => unseal('', 'k', 's')).toThrow(/malformed/)
    expect(() => unseal('abc.def', 'k', 's')).toThrow(/malformed/)
  })
})
