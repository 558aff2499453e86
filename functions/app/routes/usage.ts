import { OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { accepts } from 'hono/accepts'
import { invalid } from '../../lib/errors.js'
import { formatMoney } from '../../lib/money.js'
import type { UsageDimension } from '../../model/index.js'
import {
  type EventRejection,
  ingestUsageEvents,
  type UsageEventInput,
} from '../../usage/ingestion.js'
import {
  BUCKET_LIMITS,
  type ReportPage,
  type ReportQuery,
  type ReportResult,
  reportPages,
  reportRange,
  usageReport,
  workspaceNames,
} from '../../usage/reports.js'
import { streamCsv } from '../http/csv-stream.js'
import { openCursor, sealCursor } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import { guard, serviceContext } from '../http/handlers.js'
import {
  AUTH_ERRORS,
  errorResponses,
  IdempotencyHeader,
  json,
  jsonBody,
  Timestamp,
} from '../http/openapi.js'
import { ADMIN, securedRoute } from '../http/route.js'
import {
  CostPageSchema,
  IngestionResultSchema,
  UsageEventSchema,
  UsagePageSchema,
} from '../http/schemas/usage.js'

/** Usage ingestion (service keys) and the usage and cost reports (admin keys). */
export const usageRoutes = new OpenAPIHono<AppEnv>()

const MAX_EVENTS_PER_BATCH = 1000

// Events are validated one by one in the handler; the schema is registered for the document.
usageRoutes.openAPIRegistry.register('UsageEvent', UsageEventSchema)

usageRoutes.openapi(
  securedRoute(
    { credentials: ['service'], idempotent: true },
    {
      method: 'post',
      path: '/v1/usage/events',
      tags: ['Usage'],
      summary: 'Record usage events (up to 1,000); each is accepted, a duplicate, or rejected',
      description:
        'Each event is judged on its own: bad ones are listed in `rejected` with the reason and ' +
        'the others are still accepted. An event id seen before for its organization counts as ' +
        'a duplicate and is never counted twice, also when the same batch is retried concurrently.',
      request: {
        headers: IdempotencyHeader,
        body: jsonBody(
          z.object({
            events: z
              .array(z.unknown())
              .min(1)
              .max(MAX_EVENTS_PER_BATCH)
              .openapi({
                description: 'UsageEvents, checked one by one so a bad event is rejected alone',
                items: { $ref: '#/components/schemas/UsageEvent' },
              }),
          })
        ),
      },
      responses: {
        200: json(IngestionResultSchema, 'What happened to each event'),
        ...errorResponses(...AUTH_ERRORS, 413),
      },
    }
  ),
  async (c) => {
    const { events } = c.req.valid('json')
    const candidates: { index: number; event: UsageEventInput }[] = []
    const invalidEvents: EventRejection[] = []
    events.forEach((raw, index) => {
      const parsed = UsageEventSchema.safeParse(raw)
      if (parsed.success) {
        candidates.push({ index, event: parsed.data })
        return
      }
      const issue = parsed.error.issues[0]
      const path = issue?.path.map(String).join('.') ?? ''
      invalidEvents.push({
        index,
        error: {
          code: 'invalid_event',
          message: `${path ? `Invalid '${path}': ` : ''}${issue?.message ?? 'not a usage event'}`,
          param: path ? `events.${index}.${path}` : `events.${index}`,
        },
      })
    })
    const result = await ingestUsageEvents(serviceContext(c), candidates)
    const rejected = [...invalidEvents, ...result.rejected].sort((a, b) => a.index - b.index)
    return c.json(
      { accepted: result.accepted, duplicates: result.duplicates, rejected } as z.infer<
        typeof IngestionResultSchema
      >,
      200
    )
  }
)

// ----- Reports ---------------------------------------------------------------------------

/** `a,b` or repeated parameters. */
const ListParam = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .openapi({
    description:
      'Comma-separated, or the parameter repeated; `name[]`, the plural `names` and `names[]` are accepted too',
  })

const ReportParams = {
  starting_at: Timestamp.openapi({ description: 'Start (snapped down to its UTC bucket)' }),
  ending_at: Timestamp.optional().openapi({
    description: 'End, exclusive (snapped up to its UTC bucket); default now',
  }),
  workspace_id: ListParam,
  model: ListParam,
  product: ListParam,
  limit: z.coerce.number().int().min(1).optional().openapi({
    description: 'Buckets per page: 1h 1..168 (default 24), 1d 1..31 (7), 1mo 1..24 (12)',
  }),
  page: z.string().min(1).optional().openapi({
    description: 'next_page of the previous page (JSON only: CSV is the whole range)',
  }),
  format: z
    .enum(['json', 'csv'])
    .optional()
    .openapi({
      description:
        'json (default) or csv: the whole range in one streamed file (limit is ignored), one ' +
        'row per bucket and group, workspace_name beside workspace_id, times as RFC 3339 UTC ' +
        'without fractions; without it, `Accept: text/csv` asks for CSV',
    }),
  fill_empty: z
    .enum(['true', 'false'])
    .default('false')
    .openapi({
      description:
        'true: a bucket without usage gets one result of zeros (group values null, except ' +
        'those a filter pins to one value) instead of none; in CSV a row of zeros',
    }),
}

const UsageQuery = z.object({
  ...ReportParams,
  bucket_width: z.enum(['1h', '1d', '1mo']).default('1d'),
  group_by: ListParam.openapi({
    description:
      'Any of workspace_id, model, product, api_key_id, member_id; comma-separated, repeated or `group_by[]`',
  }),
  api_key_id: ListParam,
  member_id: ListParam,
})

const CostQuery = z.object({
  ...ReportParams,
  bucket_width: z.enum(['1d', '1mo']).default('1d'),
  group_by: ListParam.openapi({
    description: 'Any of workspace_id, model, product; comma-separated, repeated or `group_by[]`',
  }),
})

const USAGE_GROUPS: readonly UsageDimension[] = [
  'workspace_id',
  'model',
  'product',
  'api_key_id',
  'member_id',
]
const COST_GROUPS: readonly UsageDimension[] = ['workspace_id', 'model', 'product']

function list(value: string | string[] | undefined): string[] {
  if (value === undefined) return []
  return (Array.isArray(value) ? value : [value])
    .flatMap((part) => part.split(','))
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
}

function reportQuery(
  query: z.infer<typeof UsageQuery> | z.infer<typeof CostQuery>,
  allowedGroups: readonly UsageDimension[]
): ReportQuery {
  const groupBy = [...new Set(list(query.group_by))]
  for (const dimension of groupBy) {
    if (!allowedGroups.includes(dimension as UsageDimension)) {
      throw invalid(
        `Cannot group by '${dimension}'; use any of ${allowedGroups.join(', ')}.`,
        'group_by'
      )
    }
  }
  const filters: ReportQuery['filters'] = {}
  for (const dimension of allowedGroups) {
    const values = list(
      (query as unknown as Record<string, string | string[] | undefined>)[dimension]
    )
    if (values.length > 0) filters[dimension] = values
  }
  return {
    starting_at: new Date(query.starting_at),
    ending_at: query.ending_at ? new Date(query.ending_at) : undefined,
    bucket_width: query.bucket_width,
    group_by: allowedGroups.filter((dimension) => groupBy.includes(dimension)),
    filters,
    limit: query.limit,
    page: query.page,
    fill_empty: query.fill_empty === 'true',
  }
}

/** The figures a report shows for each result, in column order. */
type Measures = Record<string, (result: ReportResult) => string | number>

const USAGE_MEASURES: Measures = {
  input_tokens: (r) => r.input_tokens,
  output_tokens: (r) => r.output_tokens,
  requests: (r) => r.requests,
  cost: (r) => formatMoney(r.cost_micros),
}
const COST_MEASURES: Measures = { cost: (r) => formatMoney(r.cost_micros) }

/** A report page as JSON: `{object: "page", …}`, the next page in `next_page`. */
function sendJson(c: Context<AppEnv>, page: ReportPage, measures: Measures): Response {
  return c.json({
    object: 'page',
    currency: page.currency,
    as_of: page.as_of,
    data: page.data.map((bucket) => ({
      starting_at: bucket.starting_at,
      ending_at: bucket.ending_at,
      results: bucket.results.map((result) => ({ ...result.group, ...figures(measures, result) })),
    })),
    has_more: page.has_more,
    next_page: sealCursor(c, page.next_page),
  })
}

const figures = (measures: Measures, result: ReportResult) =>
  Object.fromEntries(Object.entries(measures).map(([name, measure]) => [name, measure(result)]))

/**
 * The most buckets one CSV export covers (a quarter of hours, ten years of days or months): a
 * bigger range is refused up front rather than read from the store page after page.
 */
export const CSV_MAX_BUCKETS: Record<ReportQuery['bucket_width'], number> = {
  '1h': 93 * 24,
  '1d': 3660,
  '1mo': 120,
}

/**
 * The whole range as one CSV file (contract v1.1): a header row, then one row per bucket and
 * group with the JSON figures, `workspace_name` beside `workspace_id`, the currency on every
 * row. Pages are read from the store one at a time as the file is streamed out.
 */
async function sendCsv(
  c: Context<AppEnv>,
  organizationId: string,
  query: ReportQuery,
  measures: Measures,
  filename: string
): Promise<Response> {
  if (query.page !== undefined) {
    throw invalid('format=csv returns the whole range in one file; page is for JSON.', 'page')
  }
  const { buckets } = reportRange(serviceContext(c), query)
  const max = CSV_MAX_BUCKETS[query.bucket_width]
  if (buckets > max) {
    throw invalid(
      `A CSV export covers at most ${max} ${query.bucket_width} buckets; this range has ${buckets}.`,
      'ending_at'
    )
  }
  const ctx = serviceContext(c)
  const nameOf = workspaceNames(ctx, organizationId)
  const columns = query.group_by.flatMap((dimension) =>
    dimension === 'workspace_id' ? ['workspace_id', 'workspace_name'] : [dimension]
  )
  const header = ['starting_at', 'ending_at', ...columns, ...Object.keys(measures), 'currency']
  const rowsOf = async (page: ReportPage) => {
    const rows: unknown[][] = []
    for (const bucket of page.data) {
      for (const result of bucket.results) {
        const groups: unknown[] = []
        for (const dimension of query.group_by) {
          const value = result.group[dimension] ?? null
          groups.push(value)
          if (dimension === 'workspace_id') groups.push(value === null ? null : await nameOf(value))
        }
        rows.push([
          spreadsheetTime(bucket.starting_at),
          spreadsheetTime(bucket.ending_at),
          ...groups,
          ...Object.values(figures(measures, result)),
          page.currency,
        ])
      }
    }
    return rows
  }
  const pages = reportPages(ctx, organizationId, query)
  // The first page is read before the 200 is sent, so its errors are still error responses.
  const first = await pages.next()
  const firstPage = first.done ? undefined : first.value
  const rest: AsyncIterator<unknown[][]> = {
    next: async () => {
      const next = await pages.next()
      return next.done
        ? { done: true, value: undefined }
        : { done: false, value: await rowsOf(next.value) }
    },
    return: async () => {
      await pages.return(undefined)
      return { done: true, value: undefined }
    },
  }
  return streamCsv(c, {
    filename,
    header,
    first: firstPage ? await rowsOf(firstPage) : [],
    rest,
    // Later pages are read later, so the first page's as_of holds for the whole file.
    headers: firstPage?.as_of ? { 'x-as-of': firstPage.as_of } : {},
  })
}

/** RFC 3339 UTC to the second ("2026-11-01T00:00:00Z"): bucket bounds have no fractions. */
function spreadsheetTime(iso: string): string {
  return iso.replace(/\.000Z$/, 'Z')
}

const reportResponses = (schema: z.ZodType, what: string) => ({
  200: {
    description: `${what}; with format=csv the whole range as one streamed CSV file`,
    headers: {
      'x-as-of': {
        description: 'CSV only: as_of of the figures (absent if usage was never aggregated)',
        schema: { type: 'string' as const, format: 'date-time' },
      },
    },
    content: {
      'application/json': { schema },
      'text/csv': {
        schema: z.string().openapi({
          description:
            'Header row starting_at,ending_at,<group_by columns (workspace_id then workspace_name)>,' +
            '<figures>,currency; one row per bucket and group; money with 6 decimals',
        }),
      },
    },
  },
  ...errorResponses(...AUTH_ERRORS),
})

usageRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/usage',
    tags: ['Usage'],
    summary: 'Token and request usage with its cost, in UTC buckets (JSON or CSV)',
    request: { query: UsageQuery },
    responses: reportResponses(UsagePageSchema, 'Usage'),
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_usage_reports')
    const raw = c.req.valid('query')
    const query = { ...reportQuery(raw, USAGE_GROUPS), page: openCursor(c, 'page') }
    checkLimit(query)
    if (reportFormat(c, raw.format) === 'csv') {
      return sendCsv(c, organizationId, query, USAGE_MEASURES, 'usage.csv')
    }
    return sendJson(c, await usageReport(serviceContext(c), organizationId, query), USAGE_MEASURES)
  }
)

usageRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/costs',
    tags: ['Usage'],
    summary: 'Costs in daily or monthly UTC buckets (JSON or CSV)',
    request: { query: CostQuery },
    responses: reportResponses(CostPageSchema, 'Costs'),
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_usage_reports')
    const raw = c.req.valid('query')
    const query = { ...reportQuery(raw, COST_GROUPS), page: openCursor(c, 'page') }
    checkLimit(query)
    if (reportFormat(c, raw.format) === 'csv') {
      return sendCsv(c, organizationId, query, COST_MEASURES, 'costs.csv')
    }
    return sendJson(c, await usageReport(serviceContext(c), organizationId, query), COST_MEASURES)
  }
)

/** `format` when given; otherwise what Accept prefers (JSON unless it asks for text/csv). */
function reportFormat(c: Context<AppEnv>, format: 'json' | 'csv' | undefined): 'json' | 'csv' {
  if (format) return format
  const type = accepts(c, {
    header: 'Accept',
    supports: ['application/json', 'text/csv'],
    default: 'application/json',
  })
  return type === 'text/csv' ? 'csv' : 'json'
}

function checkLimit(query: ReportQuery): void {
  const { max } = BUCKET_LIMITS[query.bucket_width]
  if (query.limit !== undefined && query.limit > max) {
    throw invalid(`limit must be between 1 and ${max} for ${query.bucket_width} buckets.`, 'limit')
  }
}
