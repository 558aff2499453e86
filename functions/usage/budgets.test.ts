import { describe, expect, it } from 'vitest'
import { budgetFigures } from './budgets.js'

const base = {
  limit_micros: 100_000_000n,
  alert_thresholds_percent: [80, 50, 100],
  enforcement: 'hard' as const,
  month: '2026-11',
  now: new Date('2026-11-16T00:00:00Z'), // half of November
}

describe('budgetFigures', () => {
  it('forecasts linearly on the month so far', () => {
    expect(budgetFigures({ ...base, spend_micros: 30_000_000n }).forecast_micros).toBe(60_000_000n)
    // In the first hour the elapsed time counts as one hour.
    const early = budgetFigures({
      ...base,
      spend_micros: 1_000_000n,
      now: new Date('2026-11-01T00:00:10Z'),
    })
    expect(early.forecast_micros).toBe(720_000_000n)
  })

  it('moves from ok to warning at the lowest threshold, and to exceeded at the limit', () => {
    const at = (spend: bigint) => budgetFigures({ ...base, spend_micros: spend })
    expect(at(49_999_999n)).toMatchObject({ state: 'ok', crossed: [], percent_used: 49.99 })
    expect(at(50_000_000n)).toMatchObject({ state: 'warning', crossed: [50], percent_used: 50 })
    expect(at(99_999_999n)).toMatchObject({
      state: 'warning',
      crossed: [50, 80],
      suspended: false,
      percent_used: 99.99,
    })
    expect(at(100_000_000n)).toMatchObject({
      state: 'exceeded',
      crossed: [50, 80, 100],
      suspended: true,
    })
  })

  it('never suspends for a soft limit or without a limit', () => {
    expect(
      budgetFigures({ ...base, enforcement: 'soft', spend_micros: 200_000_000n })
    ).toMatchObject({ state: 'exceeded', suspended: false })
    expect(budgetFigures({ ...base, limit_micros: null, spend_micros: 1n })).toMatchObject({
      state: 'ok',
      percent_used: null,
      crossed: [],
    })
  })
})
