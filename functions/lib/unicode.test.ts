import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { illFormedStringPath, isWellFormed } from './unicode.js'

/** Characters that make lone surrogates and pairs (high then low) often. */
const SURROGATE_HEAVY = fc.constantFrom(
  '\ud83d',
  '\ude00',
  '\udbff',
  '\udc00',
  'a',
  'é',
  '😀',
  '\u0000'
)

describe('illFormedStringPath', () => {
  it('finds a lone surrogate in a value, an array item, a nested field or a key', () => {
    expect(illFormedStringPath('\ud800')).toBe('')
    expect(illFormedStringPath({ a: ['ok', 'x\udfff'] })).toBe('a.1')
    expect(illFormedStringPath({ a: { b: { c: 'end\ud83d' } } })).toBe('a.b.c')
    expect(illFormedStringPath({ ok: 1, 'k\ud800': 'fine' })).toBe('k\ud800')
    // A reversed pair is two lone surrogates.
    expect(illFormedStringPath(['\ude00\ud83d'])).toBe('0')
  })

  it('accepts surrogate pairs, other types and empty containers', () => {
    expect(
      illFormedStringPath({ emoji: '😀', flag: '🇪🇺', n: 1, t: true, z: null, e: [], o: {} })
    ).toBe(undefined)
  })

  it('calls well formed exactly the strings that survive a UTF-8 round trip', () => {
    fc.assert(
      fc.property(fc.string({ unit: SURROGATE_HEAVY }), (text) => {
        // UTF-8 has no form for a lone surrogate: encoding replaces it with U+FFFD.
        const wellFormed = Buffer.from(text, 'utf8').toString('utf8') === text
        expect(isWellFormed(text)).toBe(wellFormed)
        expect(illFormedStringPath({ field: text }) === undefined).toBe(wellFormed)
      })
    )
  })

  it('walks a body nested far deeper than the call stack could recurse', () => {
    let deep: unknown = '\ud800'
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(illFormedStringPath(deep)).toBe(Array(100_000).fill('0').join('.'))
  })
})
