import { OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { accepts } from 'hono/accepts'
import { toCsv } from '../../lib/csv.js'
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
  usageReport,
} from '../../usage/reports.js'
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
  page: z.string().min(1).optional().openapi({ description: 'next_page of the previous page' }),
  format: z.enum(['json', 'csv']).optional().openapi({
    description: 'json (default) or csv; without it, `Accept: text/csv` asks for CSV',
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

/**
 * A report page as JSON (`{object: "page", …}`) or as CSV: a header row, then one row per bucket
 * and group with the same figures, the next page in `X-Next-Page`.
 */
function sendReport(
  c: Context<AppEnv>,
  page: ReportPage,
  groupBy: UsageDimension[],
  measures: Measures,
  format: 'json' | 'csv',
  filename: string
): Response {
  const next = sealCursor(c, page.next_page)
  const figures = (result: ReportResult) =>
    Object.fromEntries(Object.entries(measures).map(([name, measure]) => [name, measure(result)]))
  if (format === 'json') {
    return c.json({
      object: 'page',
      currency: page.currency,
      as_of: page.as_of,
      data: page.data.map((bucket) => ({
        starting_at: bucket.starting_at,
        ending_at: bucket.ending_at,
        results: bucket.results.map((result) => ({ ...result.group, ...figures(result) })),
      })),
      has_more: page.has_more,
      next_page: next,
    })
  }
  const header = ['starting_at', 'ending_at', ...groupBy, ...Object.keys(measures), 'currency']
  const rows = page.data.flatMap((bucket) =>
    bucket.results.map((result) => [
      bucket.starting_at,
      bucket.ending_at,
      ...groupBy.map((dimension) => result.group[dimension]),
      ...Object.values(figures(result)),
      page.currency,
    ])
  )
  if (next) c.header('X-Next-Page', next)
  return c.body(toCsv(header, rows), 200, {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="${filename}"`,
  })
}

const reportResponses = (schema: z.ZodType, what: string) => ({
  200: {
    description: `${what}; with format=csv one row per bucket and group, next page in X-Next-Page`,
    headers: {
      'X-Next-Page': {
        description: 'CSV only, when more buckets follow: the next_page, sent back as ?page=',
        schema: { type: 'string' as const },
      },
    },
    content: { 'application/json': { schema }, 'text/csv': { schema: z.string() } },
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
    const page = await usageReport(serviceContext(c), organizationId, query)
    return sendReport(
      c,
      page,
      query.group_by,
      USAGE_MEASURES,
      reportFormat(c, raw.format),
      'usage.csv'
    )
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
    const page = await usageReport(serviceContext(c), organizationId, query)
    return sendReport(
      c,
      page,
      query.group_by,
      COST_MEASURES,
      reportFormat(c, raw.format),
      'costs.csv'
    )
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
