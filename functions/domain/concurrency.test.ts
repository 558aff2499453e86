import { describe, expect, it } from 'vitest'
import { LEASE_MS, leaseExpired } from './concurrency.js'

describe('leaseExpired', () => {
  const now = new Date('2026-11-27T10:00:00.000Z')

  it('is true from exactly one lease after the timestamp on, for ISO strings and epoch ms', () => {
    const at = now.getTime() - LEASE_MS
    expect(leaseExpired(at, now)).toBe(true)
    expect(leaseExpired(at + 1, now)).toBe(false)
    expect(leaseExpired(new Date(at).toISOString(), now)).toBe(true)
    expect(leaseExpired(new Date(at + 1).toISOString(), now)).toBe(false)
  })

  it('is false for a lease taken in the future (another instance with a clock ahead)', () => {
    expect(leaseExpired(now.getTime() + 5_000, now)).toBe(false)
  })
})
