/**
 * Money is kept as integer micro-units (1 unit = 1,000,000 micros) and shown as decimal strings
 * (contract: "Money"). Arithmetic uses BigInt so no amount is ever a float.
 */

export const MICROS_PER_UNIT = 1_000_000n

/** A decimal string with up to 6 fractional digits and at most 9 integer digits. */
export const MONEY_PATTERN = /^(0|[1-9]\d{0,8})(\.\d{1,6})?$/

/** "125.50" → 125500000n. Throws on anything MONEY_PATTERN does not accept. */
export function parseMoney(text: string): bigint {
  const match = MONEY_PATTERN.exec(text)
  if (!match) throw new Error(`not a money amount: ${text}`)
  const whole = BigInt(match[1]!)
  const fraction = (match[2] ?? '.').slice(1).padEnd(6, '0')
  return whole * MICROS_PER_UNIT + BigInt(fraction)
}

/**
 * 125500000n → "125.500000": a fixed scale of 6 decimals (contract v1.1, "Money and reports"), so
 * every micro-unit is visible and amounts line up in a spreadsheet.
 */
export function formatMoney(micros: bigint | number): string {
  const value = BigInt(micros)
  const sign = value < 0n ? '-' : ''
  const abs = value < 0n ? -value : value
  const whole = abs / MICROS_PER_UNIT
  const fraction = (abs % MICROS_PER_UNIT).toString().padStart(6, '0')
  return `${sign}${whole}.${fraction}`
}

/**
 * Costs are kept exactly, below the micro-unit: a per-million-token price in micro-units times
 * tokens is a count of millionths of a micro-unit ("sub-micros"). They are rounded to
 * micro-units once, where a figure is shown, never per event.
 */
export const SUB_MICROS_PER_MICRO = 1_000_000n

/** An exact amount as whole micro-units plus sub-micros: both stay safe integers when summed. */
export interface ExactMoney {
  micros: bigint
  subMicros: bigint
}

/** Splits an amount in sub-micros into whole micro-units and the remaining sub-micros. */
export function splitSubMicros(subMicros: bigint): ExactMoney {
  return { micros: subMicros / SUB_MICROS_PER_MICRO, subMicros: subMicros % SUB_MICROS_PER_MICRO }
}

/** The one rounding of an exact amount to micro-units, half up. */
export function roundToMicros(amount: ExactMoney): bigint {
  return amount.micros + divideRounded(amount.subMicros, SUB_MICROS_PER_MICRO)
}

/** `numerator / denominator`, rounded half up (both non-negative). */
export function divideRounded(numerator: bigint, denominator: bigint): bigint {
  return (numerator * 2n + denominator) / (denominator * 2n)
}
