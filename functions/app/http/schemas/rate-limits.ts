import { z } from '@hono/zod-openapi'

/** Schemas of the rate-limit routes (contract v1.1 "Rate limits"). */

const Limit = z
  .number()
  .int()
  .positive()
  .max(1_000_000_000_000)
  .nullable()
  .optional()
  .openapi({ description: 'absent or null = no limit at this level' })

export const RateLimitEntryInputSchema = z
  .object({
    model: z
      .string()
      .min(1)
      .max(200)
      .openapi({ description: '`*` (every model) or a model name', example: '*' }),
    requests_per_minute: Limit,
    tokens_per_minute: Limit,
    tokens_per_month: Limit,
  })
  .strict()
  .openapi('RateLimitEntryInput')

export const RateLimitsInputSchema = z
  .object({ limits: z.array(RateLimitEntryInputSchema).max(100) })
  .strict()
  .openapi('RateLimitsInput', {
    example: { limits: [{ model: '*', requests_per_minute: 600, tokens_per_minute: 200_000 }] },
  })

const StoredLimit = z.number().int().nullable()

export const RateLimitEntrySchema = z
  .object({
    model: z.string(),
    requests_per_minute: StoredLimit,
    tokens_per_minute: StoredLimit,
    tokens_per_month: StoredLimit,
  })
  .openapi('RateLimitEntry')

export const EffectiveRateLimitSchema = z
  .object({
    model: z.string(),
    limit_type: z.enum(['requests_per_minute', 'tokens_per_minute', 'tokens_per_month']),
    value: z.number().int(),
    source: z.enum(['workspace', 'organization']),
    organization_value: z.number().int().nullable(),
  })
  .openapi('EffectiveRateLimit')

export const RateLimitsSchema = z
  .object({
    object: z.literal('rate_limits'),
    organization_id: z.string(),
    workspace_id: z.string().nullable(),
    limits: z.array(RateLimitEntrySchema),
    effective: z.array(EffectiveRateLimitSchema).optional().openapi({
      description:
        "With include_inherited=true: every value in force in the workspace, its own or the organization's, with its source",
    }),
    updated_at: z.string().nullable(),
    version: z.number().int(),
  })
  .openapi('RateLimits')

export const IncludeInheritedQuery = z
  .object({
    include_inherited: z
      .enum(['true', 'false'])
      .optional()
      .openapi({ description: 'true: add `effective`, every value in force with its source' }),
  })
  .strict()

/** `rate_limit` in a decision denied by `forbid-rate-limit`. */
export const RateLimitHitSchema = z
  .object({
    limit_type: z.enum(['requests_per_minute', 'tokens_per_minute', 'tokens_per_month']),
    limit: z.number().int(),
    remaining: z.literal(0),
    resets_at: z.string(),
    retry_after_ms: z.number().int(),
    scope: z.enum(['workspace', 'organization']),
    model: z.string(),
  })
  .openapi('RateLimitHit')
