/** Percentile of a sample (nearest rank), in the sample's unit. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/** Times `fn` `iterations` times after `warmup` untimed runs; returns per-call microseconds. */
export async function sampleMicros(
  fn: () => unknown | Promise<unknown>,
  iterations: number,
  warmup = Math.min(200, iterations)
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn()
  const samples: number[] = []
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint()
    await fn()
    samples.push(Number(process.hrtime.bigint() - start) / 1000)
  }
  return samples
}

export function fmt(value: number, digits = 1): string {
  return value.toFixed(digits)
}
