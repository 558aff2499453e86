/** UTC time buckets of usage: hours, days and calendar months. */

export type BucketWidth = '1h' | '1d' | '1mo'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

/** The start of the bucket of `width` that contains `at`. */
export function bucketStart(at: Date, width: BucketWidth): Date {
  const t = at.getTime()
  if (width === '1h') return new Date(t - mod(t, HOUR_MS))
  if (width === '1d') return new Date(t - mod(t, DAY_MS))
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1))
}

/** The start of the bucket after the one starting at `start`. */
export function nextBucket(start: Date, width: BucketWidth): Date {
  if (width === '1h') return new Date(start.getTime() + HOUR_MS)
  if (width === '1d') return new Date(start.getTime() + DAY_MS)
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1))
}

/** `at` itself when it is a bucket boundary, else the start of the next bucket. */
export function bucketCeil(at: Date, width: BucketWidth): Date {
  const start = bucketStart(at, width)
  return start.getTime() === at.getTime() ? start : nextBucket(start, width)
}

/** "2026-11-27" */
export function dayKey(at: Date): string {
  return at.toISOString().slice(0, 10)
}

/** "2026-11" */
export function monthKey(at: Date): string {
  return at.toISOString().slice(0, 7)
}

/** The first instant of a "YYYY-MM" month and of the month after it. */
export function monthRange(month: string): { start: Date; end: Date } {
  const start = new Date(`${month}-01T00:00:00.000Z`)
  return { start, end: nextBucket(start, '1mo') }
}

function mod(value: number, divisor: number): number {
  return ((value % divisor) + divisor) % divisor
}
