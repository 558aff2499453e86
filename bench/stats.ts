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

/**
 * Throughput of a closed queueing network by exact mean value analysis (Reiser & Lavenberg):
 * `customers` jobs cycle forever through single-server queues, spending `demands[i]` ms of
 * service at queue i per cycle. Returns cycles per second. Used to check that a measured rate
 * is what the measured CPU per cycle of each process allows (bench/suites/usage.ts).
 */
export function closedNetworkRate(demands: readonly number[], customers: number): number {
  let queued = demands.map(() => 0)
  let perMs = 0
  for (let n = 1; n <= customers; n++) {
    const residence = demands.map((demand, i) => demand * (1 + queued[i]!))
    perMs = n / residence.reduce((a, b) => a + b, 0)
    queued = residence.map((r) => perMs * r)
  }
  return perMs * 1000
}
