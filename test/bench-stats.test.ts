import { describe, expect, it } from 'vitest'
import { closedNetworkRate } from '../bench/stats.js'

/** The queueing model the usage bench checks its measured rates against. */
describe('closedNetworkRate (exact mean value analysis)', () => {
  it('one queue: always busy once a job is in, so 1 / demand whatever the jobs', () => {
    for (const customers of [1, 2, 16]) {
      expect(closedNetworkRate([50], customers)).toBeCloseTo(20, 10)
    }
  })

  it('balanced queues: N / ((N + K − 1) · D), the textbook closed form', () => {
    const demand = 10
    for (const [queues, customers] of [
      [2, 1],
      [2, 4],
      [3, 5],
    ] as const) {
      const expected = (1000 * customers) / ((customers + queues - 1) * demand)
      expect(closedNetworkRate(Array(queues).fill(demand), customers)).toBeCloseTo(expected, 10)
    }
  })

  it('is bounded by the busiest queue and rises with the jobs in flight', () => {
    const rates = [1, 2, 4, 8, 64].map((n) => closedNetworkRate([65, 83], n))
    for (let i = 1; i < rates.length; i++) expect(rates[i]!).toBeGreaterThan(rates[i - 1]!)
    expect(rates.at(-1)!).toBeLessThan(1000 / 83)
    expect(rates.at(-1)!).toBeGreaterThan(0.99 * (1000 / 83))
    // Two jobs over two unequal queues, worked by hand: 2 / (65·(1 + 65/148) + 83·(1 + 83/148)).
    expect(rates[1]!).toBeCloseTo(2000 / (65 * (1 + 65 / 148) + 83 * (1 + 83 / 148)), 10)
  })
})
