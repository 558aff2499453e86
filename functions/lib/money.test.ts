import { describe, expect, it } from 'vitest'
import { divideRounded, formatMoney, parseMoney } from './money.js'

describe('money', () => {
  it('parses decimal strings into micro-units', () => {
    expect(parseMoney('0')).toBe(0n)
    expect(parseMoney('125.5')).toBe(125_500_000n)
    expect(parseMoney('0.000001')).toBe(1n)
    expect(parseMoney('999999999.999999')).toBe(999_999_999_999_999n)
    for (const bad of ['', '-1', '1.', '.5', '01', '1e3', '1.0000001', '1000000000']) {
      expect(() => parseMoney(bad), bad).toThrow()
    }
  })

  it('formats with a fixed scale of six decimals', () => {
    expect(formatMoney(0n)).toBe('0.000000')
    expect(formatMoney(125_500_000n)).toBe('125.500000')
    expect(formatMoney(150)).toBe('0.000150')
    expect(formatMoney(1_000_001n)).toBe('1.000001')
    expect(formatMoney(-2_500_000n)).toBe('-2.500000')
    expect(parseMoney(formatMoney(123_456_789n))).toBe(123_456_789n)
  })

  it('rounds half up', () => {
    expect(divideRounded(5n, 10n)).toBe(1n)
    expect(divideRounded(4n, 10n)).toBe(0n)
    expect(divideRounded(15n, 10n)).toBe(2n)
  })
})
