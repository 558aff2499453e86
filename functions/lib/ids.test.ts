import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ID_PREFIXES, type IdKind, idLength, isIdOf, newId, newUlid } from './ids.js'

const KINDS = Object.keys(ID_PREFIXES) as IdKind[]
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

describe('newId', () => {
  it('is the kind prefix, an underscore and a ULID, of the advertised length', () => {
    for (const kind of KINDS) {
      const id = newId(kind)
      expect(id).toMatch(new RegExp(`^${ID_PREFIXES[kind]}_[0-9A-HJKMNP-TV-Z]{26}$`))
      expect(id).toHaveLength(idLength(kind))
      expect(isIdOf(kind, id)).toBe(true)
    }
  })

  it('is an id of its own kind only (no prefix is another one with an extra letter)', () => {
    for (const kind of KINDS) {
      const id = newId(kind)
      for (const other of KINDS) expect(isIdOf(other, id)).toBe(other === kind)
    }
  })

  it('sorts in creation order, also within one millisecond and when the clock steps back', () => {
    const at = new Date('2026-11-27T10:00:00.000Z')
    const sameMs = Array.from({ length: 200 }, () => newId('member', at))
    expect([...sameMs].sort()).toEqual(sameMs)
    expect(new Set(sameMs).size).toBe(sameMs.length)
    const earlier = newId('member', new Date(at.getTime() - 5_000))
    expect(earlier > sameMs.at(-1)!).toBe(true)
  })

  it('encodes the time it was minted at in the first ten ULID characters', () => {
    // Later than any time used before in this process: the monotonic factory never goes back.
    const later = Date.now() + 86_400_000
    const a = newUlid(new Date(later))
    const b = newUlid(new Date(later + 1000))
    const time = (ulid: string) =>
      [...ulid.slice(0, 10)].reduce((ms, c) => ms * 32 + CROCKFORD.indexOf(c), 0)
    expect(time(a)).toBe(later)
    expect(time(b)).toBe(later + 1000)
  })
})

describe('isIdOf', () => {
  const ulid = newUlid()

  it.each([
    ['no underscore', `mem${ulid}`],
    ['another prefix', `grp_${ulid}`],
    ['lower case ULID', `mem_${ulid.toLowerCase()}`],
    ['a letter ULIDs leave out (I, L, O, U)', `mem_${ulid.slice(0, 25)}U`],
    ['one character short', `mem_${ulid.slice(1)}`],
    ['one character long', `mem_${ulid}0`],
    ['trailing newline', `mem_${ulid}\n`],
    ['empty', ''],
  ])('rejects %s', (_, id) => {
    expect(isIdOf('member', id)).toBe(false)
  })

  it('accepts no string that newId could not have produced for the kind', () => {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), fc.string({ maxLength: 40 }), (kind, tail) => {
        const id = `${ID_PREFIXES[kind]}_${tail}`
        expect(isIdOf(kind, id)).toBe(/^[0-9A-HJKMNP-TV-Z]{26}$/.test(tail))
      })
    )
  })
})
