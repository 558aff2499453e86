import { describe, expect, it } from 'vitest'
import { fnv1a32 } from './hash.js'

describe('fnv1a32', () => {
  it('gives the published FNV-1a values, so layouts that depend on it never move', () => {
    // Reference values of 32-bit FNV-1a (offset basis 0x811c9dc5, prime 0x01000193).
    expect(fnv1a32('')).toBe(0x811c9dc5)
    expect(fnv1a32('a')).toBe(0xe40c292c)
    expect(fnv1a32('foobar')).toBe(0xbf9cf968)
  })
})
