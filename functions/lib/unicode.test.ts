import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { illFormedStringPath, isWellFormed } from './unicode.js'

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

  it('agrees with String.prototype.isWellFormed on every string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(isWellFormed(text)).toBe(text.isWellFormed())
        expect(illFormedStringPath({ field: text }) === undefined).toBe(text.isWellFormed())
      })
    )
  })

  it('walks a body nested far deeper than the call stack could recurse', () => {
    let deep: unknown = '\ud800'
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(illFormedStringPath(deep)).toBe(Array(100_000).fill('0').join('.'))
  })
})
