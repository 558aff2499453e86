import { describe, expect, it } from 'vitest'
import { roundToMicros } from '../lib/money.js'
import type { PriceEntry } from '../model/index.js'
import { exactCost, priceAt } from './prices.js'

const own = (model: string, from: string, input: string): PriceEntry => ({
  model,
  input_per_million: input,
  output_per_million: '10.00',
  per_request: null,
  effective_from: from,
})

describe('priceAt', () => {
  it('uses the shipped defaults until the organization prices a model', () => {
    expect(priceAt([], 'claude-sonnet-4', new Date('2026-01-01T00:00:00Z'))).toEqual({
      inputMicrosPerMillion: 3_000_000n,
      outputMicrosPerMillion: 15_000_000n,
      perRequestMicros: 0n,
    })
    expect(priceAt([], 'web-search', new Date('2026-01-01T00:00:00Z'))?.perRequestMicros).toBe(
      10_000n
    )
    // Before any default is effective, and for models nobody priced: no price.
    expect(priceAt([], 'claude-sonnet-4', new Date('2024-12-31T23:59:59Z'))).toBeUndefined()
    expect(priceAt([], 'no-such-model', new Date('2026-01-01T00:00:00Z'))).toBeUndefined()
  })

  it("takes the organization's latest entry effective at the time, the defaults before its first", () => {
    const entries = [
      own('claude-sonnet-4', '2026-03-01T00:00:00.000Z', '2.00'),
      own('claude-sonnet-4', '2026-06-01T00:00:00.000Z', '1.50'),
      own('claude-opus-4', '2026-01-01T00:00:00.000Z', '9.00'),
    ]
    const input = (at: string) =>
      priceAt(entries, 'claude-sonnet-4', new Date(at))?.inputMicrosPerMillion
    expect(input('2026-02-28T23:59:59.999Z')).toBe(3_000_000n)
    expect(input('2026-03-01T00:00:00.000Z')).toBe(2_000_000n)
    expect(input('2026-05-31T23:59:59.999Z')).toBe(2_000_000n)
    expect(input('2026-06-01T00:00:00.000Z')).toBe(1_500_000n)
    // Entries of another model change nothing for this one.
    expect(priceAt(entries, 'claude-haiku-4', new Date('2026-07-01'))?.inputMicrosPerMillion).toBe(
      1_000_000n
    )
  })
})

/** What a report shows for usage: its exact cost, rounded once to micro-units, half up. */
const costMicros = (...args: Parameters<typeof exactCost>) => roundToMicros(exactCost(...args))

describe('exactCost, rounded once', () => {
  const price = {
    inputMicrosPerMillion: 3_000_000n,
    outputMicrosPerMillion: 15_000_000n,
    perRequestMicros: 10_000n,
  }

  it('prices tokens per million, rounded half up per event, plus each request', () => {
    expect(costMicros(price, { input_tokens: 1_000_000, output_tokens: 0, requests: 0 })).toBe(
      3_000_000n
    )
    // 100 input + 20 output tokens = 300 + 300 micro-units, plus one request.
    expect(costMicros(price, { input_tokens: 100, output_tokens: 20, requests: 1 })).toBe(10_600n)
    // 1 input token = 3 micro-units; 1 token at 0.50/M = 0.5 micro-units, rounded up to 1.
    expect(costMicros(price, { input_tokens: 1, output_tokens: 0, requests: 0 })).toBe(3n)
    const half = { ...price, inputMicrosPerMillion: 500_000n }
    expect(costMicros(half, { input_tokens: 1, output_tokens: 0, requests: 0 })).toBe(1n)
    expect(costMicros(half, { input_tokens: 0, output_tokens: 0, requests: 0 })).toBe(0n)
  })

  it('rounds the token cost once per event, not per kind of token', () => {
    const fraction = {
      inputMicrosPerMillion: 400_000n,
      outputMicrosPerMillion: 400_000n,
      perRequestMicros: 0n,
    }
    // 0.4 + 0.4 = 0.8 → 1 (rounding each side first would give 0).
    expect(costMicros(fraction, { input_tokens: 1, output_tokens: 1, requests: 0 })).toBe(1n)
  })
})
