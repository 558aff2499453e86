import type { AuthorizationRequest, CedarValue, Decision, PolicySetHandle } from './engine.js'
import { builtinPolicySet } from './engine.js'

/**
 * Decisions already made, by the snapshot they were made at and the exact request: an exact
 * repeat at the same organization revision is answered without Cedar. A snapshot is one
 * organization revision (fact-loader.ts), so any committed change starts new keys; the old ones
 * age out. Bounded (least recently used dropped first) for the whole service.
 *
 * Time is the one input not in the key: `context.now`. The built-in policies compare it only
 * with datetimes of the request's entities (an API key's `expires_at`), so an entry also
 * records how many of those lay at or before `now`, and is used only while that count is the
 * same. A policy set with a custom policy that mentions `now` at all is never cached.
 *
 * Cached decisions are shared between callers: treat them as read-only.
 */
export class DecisionCache {
  private readonly entries = new Map<string, Entry>()

  constructor(private readonly maxEntries: number) {}

  get(key: string, now: Date): Decision | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.times.length > 0 && passed(entry.times, now.getTime()) !== entry.passed) {
      return undefined
    }
    // Most recently used last, so eviction drops the coldest.
    this.entries.delete(key)
    this.entries.set(key, entry)
    return entry.decision
  }

  set(key: string, decision: Decision, request: AuthorizationRequest | undefined, now: Date): void {
    if (this.maxEntries <= 0) return
    const times = request ? entityDatetimes(request) : []
    this.entries.delete(key)
    this.entries.set(key, { decision, times, passed: passed(times, now.getTime()) })
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
  }

  get size(): number {
    return this.entries.size
  }
}

interface Entry {
  decision: Decision
  /** The datetimes (ms) among the request's entity attributes. */
  times: number[]
  /** How many of them were at or before `now` when it was decided. */
  passed: number
}

function passed(times: readonly number[], now: number): number {
  let count = 0
  for (const time of times) if (time <= now) count++
  return count
}

/** Every datetime extension value in the entities' attributes (records included). */
function entityDatetimes(request: AuthorizationRequest): number[] {
  const times: number[] = []
  const visit = (value: CedarValue | undefined): void => {
    if (value === null || typeof value !== 'object') return
    if (Array.isArray(value)) {
      for (const item of value) visit(item)
      return
    }
    const extension = (value as { __extn?: { fn?: string; arg?: unknown } }).__extn
    if (extension) {
      if (extension.fn === 'datetime' && typeof extension.arg === 'string') {
        times.push(Date.parse(extension.arg))
      }
      return
    }
    for (const item of Object.values(value)) visit(item as CedarValue)
  }
  for (const entity of request.entities) {
    visit((entity as { attrs?: CedarValue }).attrs)
  }
  return times
}

/** Whether decisions against this set may be cached: no custom policy can read the time. */
export function cacheableSet(set: PolicySetHandle): boolean {
  return Object.entries(set.policies).every(
    ([id, text]) => builtinPolicySet.policies[id] === text || !/now/.test(text)
  )
}
