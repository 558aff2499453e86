import type { ServiceContext } from '../domain/context.js'
import { getOrganization } from '../domain/organizations.js'
import { invalid } from '../lib/errors.js'
import { type ExactMoney, roundToMicros } from '../lib/money.js'
import {
  type BucketWidth,
  bucketCeil,
  bucketStart,
  dayKey,
  monthKey,
  nextBucket,
} from '../lib/time-buckets.js'
import type { UsageDimension } from '../model/index.js'
import { usageJobLock } from '../store/usage/job-lock.js'
import { type UsageRow, usageTotals } from '../store/usage/totals.js'
import { workspaces } from '../store/workspaces.js'

export const BUCKET_LIMITS: Record<BucketWidth, { default: number; max: number }> = {
  '1h': { default: 24, max: 168 },
  '1d': { default: 7, max: 31 },
  '1mo': { default: 12, max: 24 },
}

export interface ReportQuery {
  starting_at: Date
  ending_at?: Date | undefined
  bucket_width: BucketWidth
  group_by: UsageDimension[]
  /** Only rows whose dimension is one of the given values. */
  filters: Partial<Record<UsageDimension, string[]>>
  /** Buckets per page. */
  limit?: number | undefined
  /** `next_page` of the previous page. */
  page?: string | undefined
  /** A bucket without usage gets one result of zeros instead of none (`fill_empty=true`). */
  fill_empty?: boolean | undefined
}

export interface ReportResult {
  /** The grouped dimensions only (null where events had none, e.g. no api key). */
  group: Partial<Record<UsageDimension, string | null>>
  input_tokens: number
  output_tokens: number
  requests: number
  cost_micros: bigint
}

export interface ReportBucket {
  starting_at: string
  ending_at: string
  results: ReportResult[]
}

export interface ReportPage {
  currency: string
  /** When the totals were last brought up to date (`aggregatedAsOf`); null if never. */
  as_of: string | null
  data: ReportBucket[]
  has_more: boolean
  next_page: string | null
}

/**
 * A page of usage totals in UTC buckets, read from the aggregated totals: hourly items for
 * `1h`, daily items for `1d` and `1mo` (a month is the sum of its days). `starting_at` is
 * snapped down to its bucket, `ending_at` up (default: the end of the bucket holding now); every
 * bucket of the page is listed,
 * empty ones with no results. Each page reads at most 8 day partitions (1h) or 24 month
 * partitions (1mo).
 */
export async function usageReport(
  ctx: ServiceContext,
  organizationId: string,
  query: ReportQuery
): Promise<ReportPage> {
  const organization = await getOrganization(ctx, organizationId)
  const width = query.bucket_width
  const { start, end } = reportRange(ctx, query)
  const limit = query.limit ?? BUCKET_LIMITS[width].default
  if (limit < 1 || limit > BUCKET_LIMITS[width].max) {
    throw invalid(`limit must be between 1 and ${BUCKET_LIMITS[width].max} for ${width}.`, 'limit')
  }
  const pageStart = query.page ? decodePage(query.page, width, start, end) : start
  const bucketStarts: Date[] = []
  for (
    let at = pageStart;
    at.getTime() < end.getTime() && bucketStarts.length < limit;
    at = nextBucket(at, width)
  ) {
    bucketStarts.push(at)
  }
  const pageEnd = nextBucket(bucketStarts[bucketStarts.length - 1]!, width)
  // Read before the rows: totals are at least as fresh as the time shown, never older.
  const asOf = await aggregatedAsOf(ctx)
  const rows = await readRows(ctx, organizationId, width, pageStart, pageEnd)

  const buckets = new Map<number, Map<string, ReportResult>>(
    bucketStarts.map((at) => [at.getTime(), new Map()])
  )
  const exactOf = new Map<ReportResult, ExactMoney>()
  for (const row of rows) {
    if (!matches(row, query.filters)) continue
    const bucket = buckets.get(bucketStart(new Date(row.bucket_start), width).getTime())
    if (!bucket) continue
    const group = Object.fromEntries(query.group_by.map((dimension) => [dimension, row[dimension]]))
    const key = JSON.stringify(query.group_by.map((dimension) => row[dimension]))
    const result = bucket.get(key) ?? {
      group,
      input_tokens: 0,
      output_tokens: 0,
      requests: 0,
      cost_micros: 0n,
    }
    result.input_tokens += row.input_tokens
    result.output_tokens += row.output_tokens
    result.requests += row.requests
    // Exact sums first; each result is rounded to micro-units once, below.
    const exact = exactOf.get(result) ?? { micros: 0n, subMicros: 0n }
    exact.micros += BigInt(row.cost_micros)
    exact.subMicros += BigInt(row.cost_sub_micros ?? 0)
    exactOf.set(result, exact)
    bucket.set(key, result)
  }
  for (const [result, exact] of exactOf) result.cost_micros = roundToMicros(exact)
  const data = bucketStarts.map((at) => {
    const results = [...buckets.get(at.getTime())!.values()].sort((a, b) =>
      compareGroups(query.group_by, a, b)
    )
    if (results.length === 0 && query.fill_empty) results.push(zeroResult(query))
    return {
      starting_at: at.toISOString(),
      ending_at: nextBucket(at, width).toISOString(),
      results,
    }
  })
  const hasMore = pageEnd.getTime() < end.getTime()
  return {
    currency: organization.currency,
    as_of: asOf,
    data,
    has_more: hasMore,
    next_page: hasMore ? encodePage(pageEnd) : null,
  }
}

/**
 * The report's whole range: `starting_at` snapped down to its bucket, `ending_at` up; without
 * ending_at the report runs to the end of the bucket that contains now.
 */
export function reportRange(
  ctx: Pick<ServiceContext, 'clock'>,
  query: Pick<ReportQuery, 'starting_at' | 'ending_at' | 'bucket_width'>
): { start: Date; end: Date; buckets: number } {
  const width = query.bucket_width
  const start = bucketStart(query.starting_at, width)
  const end = query.ending_at
    ? bucketCeil(query.ending_at, width)
    : nextBucket(bucketStart(ctx.clock.now(), width), width)
  if (end.getTime() <= start.getTime()) {
    throw invalid('ending_at must be after starting_at.', 'ending_at')
  }
  return { start, end, buckets: bucketCount(start, end, width) }
}

function bucketCount(start: Date, end: Date, width: BucketWidth): number {
  if (width === '1mo') {
    return (
      (end.getUTCFullYear() - start.getUTCFullYear()) * 12 + end.getUTCMonth() - start.getUTCMonth()
    )
  }
  const size = width === '1h' ? 3_600_000 : 86_400_000
  return Math.ceil((end.getTime() - start.getTime()) / size)
}

/**
 * Every page of a report, in order, each read from the store only when the one before it has
 * been consumed (the CSV export streams them: memory stays at one page whatever the range).
 */
export async function* reportPages(
  ctx: ServiceContext,
  organizationId: string,
  query: Omit<ReportQuery, 'limit'>
): AsyncGenerator<ReportPage> {
  const limit = BUCKET_LIMITS[query.bucket_width].max
  let page = query.page
  do {
    const current = await usageReport(ctx, organizationId, { ...query, limit, page })
    yield current
    page = current.next_page ?? undefined
  } while (page !== undefined)
}

/**
 * A bucket's zero row: no group values except those a filter pins to one value (a report of one
 * workspace shows that workspace on its empty days too).
 */
function zeroResult(query: ReportQuery): ReportResult {
  const group = Object.fromEntries(
    query.group_by.map((dimension) => {
      const values = query.filters[dimension] ?? []
      return [dimension, values.length === 1 ? values[0]! : null]
    })
  )
  return { group, input_tokens: 0, output_tokens: 0, requests: 0, cost_micros: 0n }
}

/**
 * Workspace names by id for report rows, each read once per report; null for an id the
 * organization has no workspace with (never another organization's name).
 */
export function workspaceNames(
  ctx: Pick<ServiceContext, 'db'>,
  organizationId: string
): (workspaceId: string) => Promise<string | null> {
  const names = new Map<string, Promise<string | null>>()
  return (workspaceId) => {
    let name = names.get(workspaceId)
    if (!name) {
      name = workspaces.get(ctx.db, organizationId, workspaceId).then((w) => w?.name ?? null)
      names.set(workspaceId, name)
    }
    return name
  }
}

/**
 * The time up to which usage is aggregated (contract v1.1, `as_of`): the end of the last
 * aggregation run that left the journal empty, so every event ingested before it is counted
 * (later events may be too). Null when no run has ever completed that way.
 */
export function aggregatedAsOf(ctx: Pick<ServiceContext, 'db'>): Promise<string | null> {
  return usageJobLock.lastCompletedAt(ctx.db)
}

async function readRows(
  ctx: ServiceContext,
  organizationId: string,
  width: BucketWidth,
  from: Date,
  to: Date
): Promise<UsageRow[]> {
  const last = new Date(to.getTime() - 1)
  const reads: Promise<UsageRow[]>[] = []
  if (width === '1h') {
    for (let day = bucketStart(from, '1d'); day < to; day = nextBucket(day, '1d')) {
      const first = dayKey(day) === dayKey(from) ? hourOf(from) : '00'
      const final = dayKey(day) === dayKey(last) ? hourOf(last) : '23'
      reads.push(usageTotals.hourly(ctx.db, organizationId, dayKey(day), first, final))
    }
  } else {
    for (let month = bucketStart(from, '1mo'); month < to; month = nextBucket(month, '1mo')) {
      const first = monthKey(month) === monthKey(from) ? dayOf(from) : '01'
      const final = monthKey(month) === monthKey(last) ? dayOf(last) : '31'
      reads.push(usageTotals.daily(ctx.db, organizationId, monthKey(month), first, final))
    }
  }
  return (await Promise.all(reads)).flat()
}

/** Results are ordered by their group values, dimension by dimension, "none" first. */
function compareGroups(dimensions: UsageDimension[], a: ReportResult, b: ReportResult): number {
  for (const dimension of dimensions) {
    const x = a.group[dimension] ?? null
    const y = b.group[dimension] ?? null
    if (x === y) continue
    if (x === null) return -1
    if (y === null) return 1
    return x < y ? -1 : 1
  }
  return 0
}

function matches(row: UsageRow, filters: ReportQuery['filters']): boolean {
  for (const [dimension, values] of Object.entries(filters) as [UsageDimension, string[]][]) {
    if (values.length > 0 && !values.includes(row[dimension] ?? '')) return false
  }
  return true
}

const hourOf = (at: Date) => at.toISOString().slice(11, 13)
const dayOf = (at: Date) => at.toISOString().slice(8, 10)

function encodePage(at: Date): string {
  return Buffer.from(JSON.stringify({ t: at.toISOString() })).toString('base64url')
}

/** The page token is the next bucket's start; it must be a bucket of this report's range. */
function decodePage(token: string, width: BucketWidth, start: Date, end: Date): Date {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { t?: unknown }
    const at = typeof parsed.t === 'string' ? new Date(parsed.t) : undefined
    if (
      at &&
      !Number.isNaN(at.getTime()) &&
      bucketStart(at, width).getTime() === at.getTime() &&
      at > start &&
      at < end
    ) {
      return at
    }
  } catch {
    // fall through to the error below
  }
  throw invalid('The page token does not belong to this report.', 'page')
}
