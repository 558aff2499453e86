import type { ApiResponse } from './harness.js'

/** How many requests a provider's provisioning workers keep in flight. */
export const PROVIDER_CONCURRENCY = 4

/** Runs `work` for every item, `PROVIDER_CONCURRENCY` at a time, keeping the results' order. */
export async function inParallel<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index]!)
    }
  }
  await Promise.all(Array.from({ length: PROVIDER_CONCURRENCY }, worker))
  return results
}

/** What the provider treats as success; anything else fails the run with the response. */
export function ok(res: ApiResponse, ...statuses: number[]): ApiResponse {
  if (!statuses.includes(res.status)) throw new Error(`unexpected ${res.status}: ${res.text}`)
  return res
}

/** Times named phases of a run; `report()` is the timings in ms with the total. */
export function phaseTimer() {
  const started = performance.now()
  const timings: Record<string, number> = {}
  return {
    async phase<T>(name: string, work: () => Promise<T>): Promise<T> {
      const begun = performance.now()
      const result = await work()
      timings[name] = Math.round(performance.now() - begun)
      return result
    },
    report(): Record<string, number> {
      return { ...timings, total: Math.round(performance.now() - started) }
    },
  }
}
