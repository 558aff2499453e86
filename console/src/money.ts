/**
 * Money as the API writes it: decimal strings with up to 6 decimals. Sums are exact (integer
 * micro-units as BigInt), so a total shown here equals the API's to the last digit.
 */
const SCALE = 1_000_000n

export function toMicros(amount: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d{1,6}))?$/.exec(amount.trim())
  if (!match) throw new Error(`Not an amount: ${amount}`)
  const micros = BigInt(match[2]!) * SCALE + BigInt((match[3] ?? '').padEnd(6, '0'))
  return match[1] ? -micros : micros
}

export function fromMicros(micros: bigint, decimals = 6): string {
  const negative = micros < 0n
  let value = negative ? -micros : micros
  if (decimals < 6) {
    // Half away from zero, once, at the end.
    const unit = 10n ** BigInt(6 - decimals)
    value = ((value + unit / 2n) / unit) * unit
  }
  const whole = value / SCALE
  const fraction = (value % SCALE).toString().padStart(6, '0').slice(0, decimals)
  return `${negative ? '-' : ''}${whole}${decimals > 0 ? `.${fraction}` : ''}`
}

export function sumAmounts(amounts: Iterable<string>): string {
  let total = 0n
  for (const amount of amounts) total += toMicros(amount)
  return fromMicros(total)
}

/** For display: thousands separators, cents (exact figures stay in tables and CSV). */
export function formatMoney(amount: string, currency: string): string {
  const cents = fromMicros(toMicros(amount), 2)
  const [whole, fraction] = cents.replace('-', '').split('.')
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `${cents.startsWith('-') ? '-' : ''}${grouped}.${fraction} ${currency}`
}
