import type { Consumption, ConsumptionGate, RateLimitHit } from '../authz/consumption-gate.js'
import { bucketStart, nextBucket } from '../lib/time-buckets.js'
import type { UsageEvent } from '../model/index.js'
import type { Db } from '../store/db.js'
import {
  type CounterCheck,
  configName,
  rateLimitConfigs,
  rateWindows,
  type StoredRateLimitEntry,
  type StoredRateLimits,
} from '../store/rate-limits.js'
import { type RateLimitExhausted, rateLimitExhausted } from './rate-limit-events.js'

/**
 * The rate limiter (docs/rate-limits.md). Counters live in the single table, one item per
 * organization, window and shard holding every counter of the organization and its workspaces
 * in that window, so one conditional UpdateItem counts a decision against all the limits that
 * apply to it — workspace and organization, the model's entry and `*`, requests and tokens —
 * or adds nothing when one of them is used up. Minute limits share the minute item; a
 * `tokens_per_month` limit adds the month item (a second request).
 */

export type LimitType = RateLimitHit['limit_type']
type Level = 'workspace' | 'organization'

export interface PlanEntry extends StoredRateLimitEntry {
  level: Level
}

/** What the limiter needs of a workspace's configuration, read once per organization revision. */
export interface RateLimitPlan {
  organizationId: string
  workspaceId: string
  shards: number
  entries: PlanEntry[]
}

/**
 * A hot window is split over shards, each holding an equal share of every limit (so the shards
 * together never admit more than the limit). One shard per this many requests per minute of
 * the organization's largest `requests_per_minute` default: ~500 writes/s per item, half what
 * one DynamoDB partition takes.
 */
export const REQUESTS_PER_SHARD_PER_MINUTE = 30_000
export const MAX_SHARDS = 16
/** Windows expire (TTL) this long after they end. */
const MINUTE_RETENTION_S = 600
const MONTH_RETENTION_S = 7 * 24 * 3600

export function shardsFor(organization: StoredRateLimits | undefined): number {
  const largest = Math.max(
    0,
    ...(organization?.limits ?? []).map((e) => e.requests_per_minute ?? 0)
  )
  return Math.min(MAX_SHARDS, Math.max(1, Math.ceil(largest / REQUESTS_PER_SHARD_PER_MINUTE)))
}

/** Shard `shard`'s share of `limit` (the shares add up to the limit). */
export function shardQuota(limit: number, shards: number, shard: number): number {
  return Math.floor(limit / shards) + (shard < limit % shards ? 1 : 0)
}

/** A window's item name, start and end. */
export function minuteWindow(at: Date) {
  const start = new Date(at.getTime() - (at.getTime() % 60_000))
  const end = new Date(start.getTime() + 60_000)
  return { name: `m${start.toISOString().slice(0, 16)}`, start, end, retention: MINUTE_RETENTION_S }
}

export function monthWindow(at: Date) {
  const start = bucketStart(at, '1mo')
  const end = nextBucket(start, '1mo')
  return { name: `M${start.toISOString().slice(0, 7)}`, start, end, retention: MONTH_RETENTION_S }
}
type Window = ReturnType<typeof minuteWindow>

/**
 * Counter names within a window item: the kind, then the level (`*org` or the workspace id),
 * then the model entry. `req`: requests; `est`: estimated tokens of admitted decisions; `act`:
 * tokens of ingested usage events. A token limit holds while both the estimates and the
 * ingested tokens are within it, so ingested usage corrects estimates that were too low.
 */
export function counterName(
  kind: 'req' | 'est' | 'act',
  workspaceId: string | null,
  model: string
): string {
  return `${kind}|${workspaceId ?? '*org'}|${model}`
}

/** One limit a decision is counted against, in one window. */
interface Counted {
  entry: PlanEntry
  type: LimitType
  limit: number
  checks: CounterCheck[]
}

export async function loadRateLimitPlan(
  db: Db,
  organizationId: string,
  workspaceId: string
): Promise<RateLimitPlan> {
  const { organization, workspace } = await rateLimitConfigs.getPair(
    db,
    organizationId,
    workspaceId
  )
  return {
    organizationId,
    workspaceId,
    shards: shardsFor(organization),
    entries: [
      ...(workspace?.limits ?? []).map((e) => ({ ...e, level: 'workspace' as const })),
      ...(organization?.limits ?? []).map((e) => ({ ...e, level: 'organization' as const })),
    ],
  }
}

/** The entries of a plan that apply to a decision about `model` (null: only `*`). */
export function applicableEntries(plan: RateLimitPlan, model: string | null): PlanEntry[] {
  return plan.entries.filter((entry) => entry.model === '*' || entry.model === model)
}

function levelId(plan: RateLimitPlan, entry: PlanEntry): string | null {
  return entry.level === 'workspace' ? plan.workspaceId : null
}

function countedIn(
  plan: RateLimitPlan,
  entries: readonly PlanEntry[],
  types: readonly LimitType[],
  tokens: number,
  shard: number,
  requests = 1
): Counted[] {
  const counted: Counted[] = []
  for (const entry of entries) {
    const level = levelId(plan, entry)
    for (const type of types) {
      const limit = entry[type]
      if (limit === null || limit === undefined) continue
      const quota = shardQuota(limit, plan.shards, shard)
      const checks: CounterCheck[] =
        type === 'requests_per_minute'
          ? [{ name: counterName('req', level, entry.model), add: requests, max: quota - requests }]
          : [
              { name: counterName('est', level, entry.model), add: tokens, max: quota - tokens },
              { name: counterName('act', level, entry.model), add: 0, max: quota - tokens },
            ]
      counted.push({ entry, type, limit, checks })
    }
  }
  return counted
}

const MINUTE_TYPES: LimitType[] = ['requests_per_minute', 'tokens_per_minute']
const MONTH_TYPES: LimitType[] = ['tokens_per_month']

export interface StoreRateLimiterOptions {
  /** Picks the shard a decision tries first (tests pin it); random by default. */
  pickShard?: (shards: number) => number
}

/** The limiter over the table, as the decision service's consumption gate. */
export function storeRateLimiter(
  db: Db,
  options: StoreRateLimiterOptions = {}
): ConsumptionGate<RateLimitPlan> {
  const pick = options.pickShard ?? ((shards) => Math.floor(Math.random() * shards))
  const leases: Leases = { held: new Map(), claiming: new Map() }
  return {
    plan: (organizationId, workspaceId) => loadRateLimitPlan(db, organizationId, workspaceId),
    async admit(plan, consumption) {
      const shape = shapeOf(plan, consumption.model)
      if (shape.entries.length === 0) return null
      if (admitFromLeases(leases, shape, consumption)) return null
      const entries = shape.entries
      const first = pick(plan.shards)
      const minute = minuteWindow(consumption.now)
      const taken = await take(db, leases, plan, entries, MINUTE_TYPES, minute, consumption, first)
      if ('hit' in taken) return taken.hit
      const month = monthWindow(consumption.now)
      const monthTaken = await take(
        db,
        leases,
        plan,
        entries,
        MONTH_TYPES,
        month,
        consumption,
        first
      )
      if ('hit' in monthTaken) {
        // Give back what the minute window counted: the decision is denied.
        if (taken.lease) {
          const lease = leases.held.get(taken.lease)
          if (lease) {
            lease.requests += 1
            lease.tokens += consumption.estimatedTokens
          }
        } else if (taken.shard !== null) {
          await giveBack(db, plan, taken.counted, minute, taken.shard)
        }
        return monthTaken.hit
      }
      return null
    },
  }
}

/**
 * What a plan counts for one model, worked out once per plan (plans are kept with the
 * organization's snapshot): the applicable entries and, per kind of window, the lease key's
 * counter names and what a lease must cover — so a decision its leases cover costs a few map
 * lookups, not a rebuild of every counter (issue 14: warm decisions with limits ≈ without).
 */
interface PlanShape {
  plan: RateLimitPlan
  entries: PlanEntry[]
  minute: WindowShape | null
  month: WindowShape | null
}
interface WindowShape {
  names: string[]
  needsRequests: boolean
  needsTokens: boolean
  /** The lease key of the last window asked for (windows change once a minute or month). */
  last: { window: string; key: string } | null
}

const shapes = new WeakMap<RateLimitPlan, Map<string | null, PlanShape>>()

function shapeOf(plan: RateLimitPlan, model: string | null): PlanShape {
  let byModel = shapes.get(plan)
  if (!byModel) {
    byModel = new Map()
    shapes.set(plan, byModel)
  }
  let shape = byModel.get(model)
  if (!shape) {
    const entries = applicableEntries(plan, model)
    const windowShape = (types: readonly LimitType[]): WindowShape | null => {
      // Names and kinds do not depend on the shard or the tokens: shard 0, no tokens.
      const counted = countedIn(plan, entries, types, 0, 0)
      if (counted.length === 0) return null
      return {
        names: counted.map((c) => c.checks[0]!.name),
        needsRequests: counted.some((c) => c.type === 'requests_per_minute'),
        needsTokens: counted.some((c) => c.type !== 'requests_per_minute'),
        last: null,
      }
    }
    shape = { plan, entries, minute: windowShape(MINUTE_TYPES), month: windowShape(MONTH_TYPES) }
    byModel.set(model, shape)
  }
  return shape
}

/** The lease key `take` uses for this window (`leaseKey`), cached for the current window. */
function shapeKey(plan: RateLimitPlan, shape: WindowShape, window: string): string {
  if (shape.last?.window !== window) {
    shape.last = { window, key: [plan.organizationId, window, ...shape.names].join('\n') }
  }
  return shape.last.key
}

/** The current minute's and month's names, recomputed only when the time leaves them. */
let minuteName = { start: 0, end: 0, name: '' }
let monthName = { start: 0, end: 0, name: '' }

function windowNameAt(at: Date, kind: 'minute' | 'month'): string {
  const time = at.getTime()
  const cached = kind === 'minute' ? minuteName : monthName
  if (time >= cached.start && time < cached.end) return cached.name
  const window = kind === 'minute' ? minuteWindow(at) : monthWindow(at)
  const next = { start: window.start.getTime(), end: window.end.getTime(), name: window.name }
  if (kind === 'minute') minuteName = next
  else monthName = next
  return next.name
}

/**
 * Admits from held leases alone when they cover every window the decision counts in (both or
 * neither are drawn on); otherwise false, and `take` does the rest exactly as before.
 */
function admitFromLeases(leases: Leases, shape: PlanShape, consumption: Consumption): boolean {
  if (leases.held.size === 0) return false
  const tokens = consumption.estimatedTokens
  // No arrays or closures here: this runs on every limited decision its leases cover.
  const minute = shape.minute
  const month = shape.month
  const minuteHeld = minute && heldFor(leases, shape, minute, 'minute', consumption.now, tokens)
  if (minuteHeld === undefined) return false
  const monthHeld = month && heldFor(leases, shape, month, 'month', consumption.now, tokens)
  if (monthHeld === undefined || (!minuteHeld && !monthHeld)) return false
  if (minuteHeld) draw(minuteHeld, minute!, tokens)
  if (monthHeld) draw(monthHeld, month!, tokens)
  return true
}

/** The lease held for `window` if it covers the decision; undefined when it does not. */
function heldFor(
  leases: Leases,
  shape: PlanShape,
  window: WindowShape,
  kind: 'minute' | 'month',
  now: Date,
  tokens: number
): { requests: number; tokens: number } | undefined {
  const held = leases.held.get(shapeKey(shape.plan, window, windowNameAt(now, kind)))
  if (!held) return undefined
  if (window.needsRequests && held.requests < 1) return undefined
  if (window.needsTokens && held.tokens < tokens) return undefined
  return held
}

function draw(held: { requests: number; tokens: number }, window: WindowShape, tokens: number) {
  if (window.needsRequests) held.requests -= 1
  if (window.needsTokens) held.tokens -= tokens
}

type Taken = { shard: number | null; counted: Counted[]; lease?: string } | { hit: RateLimitHit }

/**
 * Leases (docs/rate-limits.md, "Leases"): where every share a decision counts against is at least
 * LEASE_MIN_SHARE, an instance claims 1 % of the shares at once — one conditional UpdateItem,
 * like a single decision's — and admits from what it holds without a store request until it runs
 * out. Claims are conditional like any addition, so the shards still never pass the limit; what
 * an instance holds unused when the window ends is not admitted (at most 1 % of each share per
 * instance). By window, organization and counter set; only this process's.
 */
export const LEASE_MIN_SHARE = 10_000
const LEASE_DIVISOR = 100
const MAX_LEASES = 10_000
interface Leases {
  held: Map<string, { requests: number; tokens: number }>
  /** One claim per key at a time, so an instance holds at most one lease's worth unused. */
  claiming: Map<string, Promise<void>>
}

function leaseKey(plan: RateLimitPlan, window: Window, counted: readonly Counted[]): string {
  return [plan.organizationId, window.name, ...counted.map((c) => c.checks[0]!.name)].join('\n')
}

/** The amounts of a lease claim on `shard`, or null where a share is too small to lease. */
function leaseSize(
  plan: RateLimitPlan,
  counted: readonly Counted[],
  tokens: number,
  shard: number
) {
  let requests = 0
  let leasedTokens = 0
  for (const c of counted) {
    const share = shardQuota(c.limit, plan.shards, shard)
    if (share < LEASE_MIN_SHARE) return null
    const slice = Math.floor(share / LEASE_DIVISOR)
    if (c.type === 'requests_per_minute') requests = requests ? Math.min(requests, slice) : slice
    else leasedTokens = leasedTokens ? Math.min(leasedTokens, slice) : slice
  }
  const needsTokens = counted.some((c) => c.type !== 'requests_per_minute')
  return { requests, tokens: needsTokens ? Math.max(tokens, leasedTokens) : 0 }
}

/**
 * Counts the decision in `window` on shard `first`, or on the next shards when that one's share
 * is used up; a hit when every shard refused (read back to name the limit).
 */
async function take(
  db: Db,
  leases: Leases,
  plan: RateLimitPlan,
  entries: readonly PlanEntry[],
  types: readonly LimitType[],
  window: Window,
  consumption: Consumption,
  first: number
): Promise<Taken> {
  const tokens = consumption.estimatedTokens
  const expires = Math.floor(window.end.getTime() / 1000) + window.retention
  const any = countedIn(plan, entries, types, tokens, first)
  if (any.length === 0) return { shard: null, counted: any }
  const needsRequests = any.some((c) => c.type === 'requests_per_minute')
  const needsTokens = any.some((c) => c.type !== 'requests_per_minute')
  const key = leaseKey(plan, window, any)
  const fromHeld = () => {
    const held = leases.held.get(key)
    if (!held || (needsRequests && held.requests < 1) || (needsTokens && held.tokens < tokens)) {
      return false
    }
    if (needsRequests) held.requests -= 1
    if (needsTokens) held.tokens -= tokens
    return true
  }
  if (fromHeld()) return { shard: null, counted: [], lease: key }
  while (leases.claiming.has(key)) {
    await leases.claiming.get(key)
    if (fromHeld()) return { shard: null, counted: [], lease: key }
  }
  let lastTried = first
  for (let attempt = 0; attempt < plan.shards; attempt++) {
    const shard = (first + attempt) % plan.shards
    const counted = countedIn(plan, entries, types, tokens, shard)
    lastTried = shard
    const impossible = counted.find((c) => c.checks.some((check) => check.max < 0))
    if (impossible && plan.shards === 1) return { hit: hitOf(impossible, window, consumption) }
    if (impossible) continue
    const size = leaseSize(plan, counted, tokens, shard)
    if (size) {
      const claim = countedIn(plan, entries, types, size.tokens, shard, size.requests)
      let done = () => {}
      leases.claiming.set(key, new Promise<void>((resolve) => (done = resolve)))
      let item: Record<string, unknown> | null
      try {
        item = await rateWindows.consume(
          db,
          plan.organizationId,
          window.name,
          shard,
          claim.flatMap((c) => c.checks),
          expires
        )
        if (item) {
          if (leases.held.size >= MAX_LEASES) leases.held.clear()
          const lease = leases.held.get(key) ?? { requests: 0, tokens: 0 }
          lease.requests += needsRequests ? size.requests - 1 : 0
          lease.tokens += needsTokens ? size.tokens - tokens : 0
          leases.held.set(key, lease)
        }
      } finally {
        leases.claiming.delete(key)
        done()
      }
      if (item) {
        await announceExhausted(db, plan, claim, item, window, shard, consumption.now)
        return { shard: null, counted: [], lease: key }
      }
      // Less than a lease left on this shard: count this decision alone.
    }
    const checks = counted.flatMap((c) => c.checks)
    const item = await rateWindows.consume(
      db,
      plan.organizationId,
      window.name,
      shard,
      checks,
      expires
    )
    if (item) {
      await announceExhausted(db, plan, counted, item, window, shard, consumption.now)
      return { shard, counted }
    }
  }
  // Every shard refused: read the last one to say which limit is used up.
  const counters = await rateWindows.get(
    db,
    plan.organizationId,
    window.name,
    lastTried,
    Math.floor(consumption.now.getTime() / 1000)
  )
  const counted = countedIn(plan, entries, types, tokens, lastTried)
  const used =
    counted.find((c) => c.checks.some((check) => (counters[check.name] ?? 0) > check.max)) ??
    counted[0]!
  return { hit: hitOf(used, window, consumption) }
}

function hitOf(counted: Counted, window: Window, consumption: Consumption): RateLimitHit {
  return {
    limit_type: counted.type,
    limit: counted.limit,
    remaining: 0,
    resets_at: window.end.toISOString(),
    retry_after_ms: Math.max(0, window.end.getTime() - consumption.now.getTime()),
    scope: counted.entry.level,
    model: counted.entry.model,
  }
}

async function giveBack(
  db: Db,
  plan: RateLimitPlan,
  counted: readonly Counted[],
  window: Window,
  shard: number
): Promise<void> {
  const amounts = new Map<string, number>()
  for (const check of counted.flatMap((c) => c.checks)) {
    if (check.add !== 0) amounts.set(check.name, -check.add)
  }
  const expires = Math.floor(window.end.getTime() / 1000) + window.retention
  await rateWindows.add(db, plan.organizationId, window.name, shard, amounts, expires)
}

/**
 * The decision whose addition reached a limit's share is the one that used the window up:
 * exactly one per shard and window, since additions to one item are serialised.
 */
async function announceExhausted(
  db: Db,
  plan: RateLimitPlan,
  counted: readonly Counted[],
  item: Record<string, unknown>,
  window: Window,
  shard: number,
  now: Date
): Promise<void> {
  for (const c of counted) {
    const check = c.checks[0]!
    const value = (item[check.name] as number | undefined) ?? 0
    const quota = shardQuota(c.limit, plan.shards, shard)
    if (check.add === 0 || value < quota || value - check.add >= quota) continue
    const event: RateLimitExhausted = {
      organization_id: plan.organizationId,
      workspace_id: c.entry.level === 'workspace' ? plan.workspaceId : null,
      model: c.entry.model,
      limit_type: c.type,
      limit: c.limit,
      window_start: window.start.toISOString(),
      resets_at: window.end.toISOString(),
    }
    await rateLimitExhausted(db, event, now)
  }
}

/**
 * Ingested usage corrects the token windows: each accepted event's tokens are added to the
 * `act` counters of the token limits that apply to it (its workspace's and organization's
 * entries for its model and `*`), in the minute and month of its timestamp, while that window
 * is still open. One BatchGetItem for the configurations, then one UpdateItem per window and
 * shard touched — none for organizations without token limits.
 */
export async function countIngestedTokens(
  db: Db,
  events: readonly UsageEvent[],
  now: Date,
  /** The configurations of the events' scopes, when the caller read them already (by configName). */
  knownConfigs?: ReadonlyMap<string, StoredRateLimits>
): Promise<void> {
  if (events.length === 0) return
  const scopes = new Map<string, { organization_id: string; workspace_id: string | null }>()
  for (const event of events) {
    for (const workspace_id of [event.workspace_id, null]) {
      const scope = { organization_id: event.organization_id, workspace_id }
      scopes.set(configName(scope.organization_id, workspace_id), scope)
    }
  }
  const configs = knownConfigs ?? (await rateLimitConfigs.getMany(db, [...scopes.values()]))
  if (configs.size === 0) return
  const writes = new Map<
    string,
    { orgId: string; window: Window; shard: number; amounts: Map<string, number> }
  >()
  events.forEach((event, index) => {
    const organization = configs.get(configName(event.organization_id, null))
    const plan: RateLimitPlan = {
      organizationId: event.organization_id,
      workspaceId: event.workspace_id,
      shards: shardsFor(organization),
      entries: [
        ...(configs.get(configName(event.organization_id, event.workspace_id))?.limits ?? []).map(
          (e) => ({ ...e, level: 'workspace' as const })
        ),
        ...(organization?.limits ?? []).map((e) => ({ ...e, level: 'organization' as const })),
      ],
    }
    const tokens = event.input_tokens + event.output_tokens
    if (tokens === 0) return
    const at = new Date(event.timestamp)
    const shard = index % plan.shards
    for (const entry of applicableEntries(plan, event.model)) {
      const name = counterName('act', levelId(plan, entry), entry.model)
      for (const [type, window] of [
        ['tokens_per_minute', minuteWindow(at)],
        ['tokens_per_month', monthWindow(at)],
      ] as const) {
        if (entry[type] === null || window.end <= now) continue
        const key = `${event.organization_id}\n${window.name}\n${shard}`
        const write = writes.get(key) ?? {
          orgId: event.organization_id,
          window,
          shard,
          amounts: new Map<string, number>(),
        }
        write.amounts.set(name, (write.amounts.get(name) ?? 0) + tokens)
        writes.set(key, write)
      }
    }
  })
  await Promise.all(
    [...writes.values()].map((write) =>
      rateWindows.add(
        db,
        write.orgId,
        write.window.name,
        write.shard,
        write.amounts,
        Math.floor(write.window.end.getTime() / 1000) + write.window.retention
      )
    )
  )
}
