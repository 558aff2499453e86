import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { minuteWindow, monthWindow, shardQuota, shardsFor } from './rate-limiter.js'

describe('shards', () => {
  it("every limit's shares add up to the limit, and differ by at most one", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.integer({ min: 1, max: 16 }),
        (limit, shards) => {
          const shares = Array.from({ length: shards }, (_, i) => shardQuota(limit, shards, i))
          expect(shares.reduce((a, b) => a + b, 0)).toBe(limit)
          expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1)
        }
      )
    )
  })

  it("follow the organization's largest requests_per_minute, 1 to 16", () => {
    const config = (rpm: (number | null)[]) => ({
      organization_id: 'o',
      workspace_id: null,
      updated_at: '',
      version: 1,
      limits: rpm.map((r, i) => ({
        model: `m${i}`,
        requests_per_minute: r,
        tokens_per_minute: null,
        tokens_per_month: null,
      })),
    })
    expect(shardsFor(undefined)).toBe(1)
    expect(shardsFor(config([null]))).toBe(1)
    expect(shardsFor(config([30_000]))).toBe(1)
    expect(shardsFor(config([50, 30_001]))).toBe(2)
    expect(shardsFor(config([10_000_000]))).toBe(16)
  })
})

describe('windows', () => {
  it('are UTC minutes and calendar months, ending where the next begins', () => {
    const at = new Date('2026-12-31T23:59:59.999Z')
    expect(minuteWindow(at)).toMatchObject({
      name: 'm2026-12-31T23:59',
      end: new Date('2027-01-01T00:00:00.000Z'),
    })
    expect(minuteWindow(new Date('2027-01-01T00:00:00.000Z')).name).toBe('m2027-01-01T00:00')
    expect(monthWindow(at)).toMatchObject({
      name: 'M2026-12',
      start: new Date('2026-12-01T00:00:00.000Z'),
      end: new Date('2027-01-01T00:00:00.000Z'),
    })
  })
})
