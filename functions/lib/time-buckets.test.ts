import { describe, expect, it } from 'vitest'
import {
  bucketCeil,
  bucketStart,
  dayKey,
  monthKey,
  monthRange,
  nextBucket,
} from './time-buckets.js'

const at = (iso: string) => new Date(iso)

describe('time buckets', () => {
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
