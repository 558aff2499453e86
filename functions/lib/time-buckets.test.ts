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

const at = (iso: string) => new Date(iso)

describe('time buckets, by example', () => {
  it('snaps down to the UTC hour, day and calendar month', () => {
    const t = at('2026-11-27T13:45:10.123Z')
    expect(bucketStart(t, '1h')).toEqual(at('2026-11-27T13:00:00.000Z'))
    expect(bucketStart(t, '1d')).toEqual(at('2026-11-27T00:00:00.000Z'))
    expect(bucketStart(t, '1mo')).toEqual(at('2026-11-01T00:00:00.000Z'))
    // A boundary is its own bucket's start.
    expect(bucketStart(at('2026-11-27T00:00:00.000Z'), '1d')).toEqual(
      at('2026-11-27T00:00:00.000Z')
    )
    // Before 1970 too (negative epoch milliseconds).
    expect(bucketStart(at('1969-12-31T23:30:00.000Z'), '1h')).toEqual(
      at('1969-12-31T23:00:00.000Z')
    )
  })

  it('steps to the next bucket, months by the calendar', () => {
    expect(nextBucket(at('2026-11-27T23:00:00.000Z'), '1h')).toEqual(at('2026-11-28T00:00:00.000Z'))
    expect(nextBucket(at('2026-12-31T00:00:00.000Z'), '1d')).toEqual(at('2027-01-01T00:00:00.000Z'))
    expect(nextBucket(at('2026-12-01T00:00:00.000Z'), '1mo')).toEqual(
      at('2027-01-01T00:00:00.000Z')
    )
    expect(nextBucket(at('2028-01-01T00:00:00.000Z'), '1mo')).toEqual(
      at('2028-02-01T00:00:00.000Z')
    )
  })

  it('snaps up only what is not a boundary already', () => {
    expect(bucketCeil(at('2026-11-27T13:00:00.000Z'), '1h')).toEqual(at('2026-11-27T13:00:00.000Z'))
    expect(bucketCeil(at('2026-11-27T13:00:00.001Z'), '1h')).toEqual(at('2026-11-27T14:00:00.000Z'))
    expect(bucketCeil(at('2026-02-10T00:00:00.000Z'), '1mo')).toEqual(
      at('2026-03-01T00:00:00.000Z')
    )
  })

  it('names days and months, and gives a month its range (February of a leap year too)', () => {
    expect(dayKey(at('2026-11-27T23:59:59.999Z'))).toBe('2026-11-27')
    expect(monthKey(at('2026-11-27T23:59:59.999Z'))).toBe('2026-11')
    const leap = monthRange('2028-02')
    expect(leap.start).toEqual(at('2028-02-01T00:00:00.000Z'))
    expect(leap.end).toEqual(at('2028-03-01T00:00:00.000Z'))
    expect((leap.end.getTime() - leap.start.getTime()) / 86_400_000).toBe(29)
    expect(monthRange('2026-12').end).toEqual(at('2027-01-01T00:00:00.000Z'))
  })
})
