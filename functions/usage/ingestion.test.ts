import { describe, expect, it } from 'vitest'
import { LATE_EVENT_DAYS, RAW_EVENT_RETENTION_DAYS, rawEventExpiry } from './ingestion.js'

describe('rawEventExpiry', () => {
  it('keeps a raw event 45 days after its timestamp, in whole epoch seconds rounded up', () => {
    expect(rawEventExpiry({ timestamp: '2026-11-01T00:00:00.000Z' })).toBe(
      Date.parse('2026-12-16T00:00:00.000Z') / 1000
    )
    expect(rawEventExpiry({ timestamp: '2026-11-01T00:00:00.001Z' })).toBe(
      Date.parse('2026-12-16T00:00:00.000Z') / 1000 + 1
    )
  })

  it('outlives the late window, so an id cannot be counted twice', () => {
    expect(RAW_EVENT_RETENTION_DAYS).toBeGreaterThan(LATE_EVENT_DAYS)
  })
})
