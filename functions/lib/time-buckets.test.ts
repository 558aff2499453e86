import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type BucketWidth,
  bucketCeil,
  bucketStart,
  dayKey,
  monthKey,
  monthRange,
  nextBucket,
} from './time-buckets.js'

const WIDTHS: BucketWidth[] = ['1h', '1d', '1mo']
// 1900..2200, including instants before the epoch (negative milliseconds).
const instant = fc.date({
  min: new Date('1900-01-01T00:00:00Z'),
  max: new Date('2200-01-01T00:00:00Z'),
  noInvalidDate: true,
})

describe('time buckets', () => {
  it('put every instant in exactly one bucket: start ≤ at < next start', () => {
    fc.assert(
      fc.property(instant, fc.constantFrom(...WIDTHS), (at, width) => {
        const start = bucketStart(at, width)
        const next = nextBucket(start, width)
        expect(start.getTime()).toBeLessThanOrEqual(at.getTime())
        expect(at.getTime()).toBeLessThan(next.getTime())
        expect(bucketStart(start, width)).toEqual(start)
        expect(bucketStart(next, width)).toEqual(next)
        expect(bucketStart(new Date(next.getTime() - 1), width)).toEqual(start)
      })
    )
  })

  it('ceil is the instant itself on a boundary, else the next start', () => {
    fc.assert(
      fc.property(instant, fc.constantFrom(...WIDTHS), (at, width) => {
        const start = bucketStart(at, width)
        const ceil = bucketCeil(at, width)
        expect(ceil).toEqual(at.getTime() === start.getTime() ? start : nextBucket(start, width))
        expect(bucketCeil(ceil, width)).toEqual(ceil)
      })
    )
  })

  it('uses UTC calendar months, with their real lengths', () => {
    const days = (month: string) => {
      const { start, end } = monthRange(month)
      return (end.getTime() - start.getTime()) / 86_400_000
    }
    expect(days('2028-02')).toBe(29)
    expect(days('2100-02')).toBe(28)
    expect(days('2026-12')).toBe(31)
    expect(monthRange('2026-12').end.toISOString()).toBe('2027-01-01T00:00:00.000Z')
    expect(bucketStart(new Date('2026-03-31T23:59:59.999Z'), '1mo').toISOString()).toBe(
      '2026-03-01T00:00:00.000Z'
    )
  })

  it('keys days and months by their UTC date', () => {
    const at = new Date('2026-11-30T23:30:00-02:00') // 2026-12-01T01:30Z
    expect(dayKey(at)).toBe('2026-12-01')
    expect(monthKey(at)).toBe('2026-12')
    fc.assert(
      fc.property(instant, (at) => {
        expect(monthRange(monthKey(at)).start).toEqual(bucketStart(at, '1mo'))
        expect(new Date(`${dayKey(at)}T00:00:00Z`)).toEqual(bucketStart(at, '1d'))
      })
    )
  })
})
