import { z } from '@hono/zod-openapi'
import { MONEY_PATTERN } from '../../../lib/money.js'
import { Timestamp } from '../openapi.js'

/** Schemas of the usage, price, spend-limit and budget resources (OpenAPI components). */

export const Money = z
  .string()
  .regex(MONEY_PATTERN, 'a decimal string with at most 6 decimals, such as "500.00"')
  .openapi({
    example: '125.500000',
    description:
      "Decimal string in the organization's currency (the response's `currency`); responses " +
      'always show 6 decimals, requests may use fewer',
  })

/** `as_of` of usage, cost and budget responses. */
export const AsOf = z
  .string()
  .nullable()
  .openapi({
    format: 'date-time',
    example: '2026-11-27T13:05:00.000Z',
    description:
      'Time up to which usage is aggregated: the end of the last aggregation run that left no ' +
      'event behind (every event ingested before it is counted); null if usage was never aggregated',
  })

/** Ids of organizations, workspaces, keys and members: never contain '#' or '/'. */
const RecordId = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'an id such as ws_01JD…')

export const UsageEventSchema = z
  .object({
    id: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\x21-\x7e]+$/, 'visible ASCII characters')
      .openapi({ description: 'Unique per organization; a repeated id is never counted twice' }),
    organization_id: RecordId,
    workspace_id: RecordId,
    timestamp: Timestamp.openapi({
      description: 'When the usage happened; at most 35 days ago and 5 minutes ahead',
    }),
    product: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a lowercase slug such as chat, studio or code'),
    model: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/, 'a model name such as claude-sonnet-4'),
    api_key_id: RecordId.nullable().optional(),
    member_id: RecordId.nullable().optional(),
    input_tokens: z.number().int().min(0).max(1_000_000_000).optional(),
    output_tokens: z.number().int().min(0).max(1_000_000_000).optional(),
    requests: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .optional()
      .openapi({ description: 'Default 1' }),
  })
  .strict()
  .openapi('UsageEvent')

export const IngestionResultSchema = z
  .object({
    accepted: z.number().int(),
    duplicates: z.number().int().openapi({ description: 'Events whose id was seen before' }),
    rejected: z.array(
      z.object({
        index: z.number().int(),
        error: z.object({
          code: z.enum([
            'invalid_event',
            'unknown_organization',
            'unknown_workspace',
            'workspace_archived',
            'unknown_api_key',
            'api_key_workspace_mismatch',
            'unknown_member',
            'timestamp_too_old',
            'timestamp_in_future',
            'unknown_model',
          ]),
          message: z.string(),
          param: z.string().nullable(),
        }),
      })
    ),
  })
  .openapi('UsageIngestionResult')

const Dimensions = {
  workspace_id: z.string().nullable().optional(),
  model: z.string().nullable().optional(),
  product: z.string().nullable().optional(),
  api_key_id: z.string().nullable().optional(),
  member_id: z.string().nullable().optional(),
}

function pageOf<T extends z.ZodType>(result: T, name: string) {
  return z
    .object({
      object: z.literal('page'),
      currency: z.string(),
      as_of: AsOf,
      data: z.array(
        z.object({ starting_at: z.string(), ending_at: z.string(), results: z.array(result) })
      ),
      has_more: z.boolean(),
      next_page: z.string().nullable(),
    })
    .openapi(name)
}

export const UsagePageSchema = pageOf(
  z.object({
    ...Dimensions,
    input_tokens: z.number().int(),
    output_tokens: z.number().int(),
    requests: z.number().int(),
    cost: Money,
  }),
  'UsageReportPage'
)

export const CostPageSchema = pageOf(
  z.object({
    workspace_id: Dimensions.workspace_id,
    model: Dimensions.model,
    product: Dimensions.product,
    cost: Money,
  }),
  'CostReportPage'
)

export const PriceEntrySchema = z
  .object({
    model: UsageEventSchema.shape.model,
    input_per_million: Money,
    output_per_million: Money,
    per_request: Money.nullable().optional(),
    effective_from: Timestamp,
  })
  .strict()
  .openapi('PriceEntryInput')

export const PriceListSchema = z
  .object({
    object: z.literal('list'),
    currency: z.string().openapi({ description: 'ISO 4217 code every amount is in' }),
    data: z.array(
      z.object({
        model: z.string(),
        input_per_million: Money,
        output_per_million: Money,
        per_request: Money.nullable(),
        effective_from: z.string(),
        source: z.enum(['default', 'organization']),
      })
    ),
    has_more: z.literal(false),
    next_cursor: z.null(),
    updated_at: z.string().nullable(),
    version: z.number().int(),
  })
  .openapi('PriceList')

export const SpendLimitInputSchema = z
  .object({
    monthly_limit: Money.nullable().openapi({ description: 'null = no limit' }),
    alert_thresholds_percent: z
      .array(z.number().int().min(1).max(1000))
      .max(10)
      .optional()
      .openapi({ description: 'Default [50, 80, 100]' }),
    enforcement: z
      .enum(['hard', 'soft'])
      .optional()
      .openapi({ description: 'hard (default): suspended at 100 %; soft: alerts only' }),
  })
  .strict()
  .openapi('SpendLimitInput')

export const SpendLimitSchema = z
  .object({
    object: z.literal('spend_limit'),
    organization_id: z.string(),
    workspace_id: z.string().nullable(),
    monthly_limit: Money.nullable(),
    alert_thresholds_percent: z.array(z.number().int()),
    enforcement: z.enum(['hard', 'soft']),
    currency: z.string(),
    updated_at: z.string().nullable(),
    version: z.number().int(),
  })
  .openapi('SpendLimit')

export const BudgetAlertSchema = z
  .object({
    id: z.string(),
    object: z.literal('budget_alert'),
    organization_id: z.string(),
    workspace_id: z.string().nullable(),
    month: z.string().openapi({ example: '2026-11' }),
    threshold_percent: z.number().int(),
    spend: Money,
    limit: Money,
    currency: z.string(),
    enforcement: z.enum(['hard', 'soft']),
    suspended: z.boolean(),
    fired_at: z.string(),
  })
  .openapi('BudgetAlert')

export const BudgetSchema = z
  .object({
    object: z.literal('budget'),
    scope: z.enum(['organization', 'workspace']),
    organization_id: z.string(),
    workspace_id: z.string().nullable(),
    month: z.string(),
    currency: z.string(),
    spend: Money,
    live_spend: Money.openapi({
      description:
        'Month-to-date spend including ingested events not aggregated yet (spend is the aggregated, exact figure as of as_of); what a hard limit is enforced against within seconds',
    }),
    limit: Money.nullable(),
    percent_used: z.number().nullable(),
    forecast_month_end: Money,
    state: z.enum(['ok', 'warning', 'exceeded']),
    suspended: z.boolean(),
    enforcement: z.enum(['hard', 'soft']),
    alert_thresholds_percent: z.array(z.number().int()),
    alerts: z.array(BudgetAlertSchema),
    last_evaluated_at: z.string().nullable(),
  })
  .openapi('Budget')

export const AggregationSummarySchema = z
  .object({
    run_id: z.string(),
    object: z.literal('aggregation_run'),
    status: z.enum(['completed', 'skipped']),
    started_at: z.string(),
    finished_at: z.string(),
    rounds: z.number().int(),
    workspaces_evaluated: z.number().int(),
    events_aggregated: z.number().int(),
    duplicates_dropped: z.number().int(),
    alerts: z.array(BudgetAlertSchema),
  })
  .openapi('AggregationRun')
