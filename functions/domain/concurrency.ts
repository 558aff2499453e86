import { randomUUID } from 'node:crypto'
import { busy } from '../lib/errors.js'
import { locks } from '../store/locks.js'
import type { ServiceContext } from './context.js'

/** Longer than any request may run (keep the API Lambda's timeout below it). */
export const LEASE_MS = 60_000
const ATTEMPTS = 40
const WAIT_MS = 25

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Runs `work` holding the organization's lease `name`, waiting briefly for a concurrent holder;
 * 409 when it stays busy. The lease is released afterwards whatever happens.
 */
export async function withLock<T>(
  ctx: ServiceContext,
  organizationId: string,
  name: string,
  work: () => Promise<T>
): Promise<T> {
  const holder = randomUUID()
  for (let attempt = 0; ; attempt++) {
    if (await locks.acquire(ctx.db, organizationId, name, holder, ctx.clock.now(), LEASE_MS)) break
    if (attempt + 1 >= ATTEMPTS) {
      // The holder's lease is not read here: the retries above already waited ≈ ATTEMPTS × WAIT_MS.
      throw busy(
        `Another ${name.replaceAll('-', ' ')} change is in progress; retry after Retry-After seconds.`,
        1
      )
    }
    await sleep(WAIT_MS + Math.floor(Math.random() * WAIT_MS))
  }
  try {
    return await work()
  } finally {
    await locks.release(ctx.db, organizationId, name, holder)
  }
}

/** How long (ms, ≥ 0) the lease taken at `at` (ISO string or epoch ms) still runs at `now`. */
export function leaseRemainingMs(at: string | number, now: Date): number {
  const ms = typeof at === 'number' ? at : Date.parse(at)
  return Math.max(0, ms + LEASE_MS - now.getTime())
}

/** True when a timestamp (ISO string or epoch ms) is older than the lease at `now`. */
export function leaseExpired(at: string | number, now: Date): boolean {
  const ms = typeof at === 'number' ? at : Date.parse(at)
  return now.getTime() - ms >= LEASE_MS
}
