import { z } from '@hono/zod-openapi'
import { MAX_CONTEXT_NESTING, nestsDeeperThan } from '../../../authz/cedar-limits.js'
import { PRODUCT_ACTIONS } from '../../../model/index.js'
import { RateLimitHitSchema } from './rate-limits.js'

/** Schemas of the decision API, introspection and custom policies. */

/** API ids are prefixed ULIDs; anything outside this alphabet cannot name one. */
const Id = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_-]+$/, 'Ids are letters, digits, "_" and "-".')

export const AuthorizationItemSchema = z
  .object({
    principal: z
      .object({ type: z.enum(['Member', 'ApiKey']), id: Id })
      .strict()
      .openapi({ example: { type: 'Member', id: 'mem_01JD4V6S9Y3T2WQ7P1J5KX8N0M' } }),
    action: z.enum(PRODUCT_ACTIONS),
    resource: z
      .object({ type: z.literal('Workspace'), id: Id })
      .strict()
      .openapi({ example: { type: 'Workspace', id: 'ws_01JD4V6S9Y3T2WQ7P1J5KX8N0M' } }),
    context: z
      .record(z.string(), z.unknown())
      .refine((context) => !nestsDeeperThan(context, MAX_CONTEXT_NESTING), {
        message: `Records and sets in context may nest at most ${MAX_CONTEXT_NESTING} levels deep.`,
      })
      .optional()
      .openapi({
        description:
          'Optional `model` (string), `estimated_tokens` (non-negative integer, counted against token rate limits) and `source_ip` (IP address); `now` and `rate_limited` are set by the server. Other fields → a deny naming them.',
        example: { model: 'claude-sonnet-4', estimated_tokens: 1200, source_ip: '203.0.113.7' },
      }),
  })
  .strict()
  .openapi('AuthorizationItem')

export const AuthorizationRequestSchema = AuthorizationItemSchema.extend({
  organization_id: Id,
}).openapi('AuthorizationRequest')

export const DecisionSchema = z
  .object({
    decision_id: z.string().openapi({
      description:
        'The decision in the decision log (GET /v1/decisions/{id}); not stored when sampled out',
      example: 'dec_01JD4V6S9Y3T2WQ7P1J5KX8N0M',
    }),
    decision: z.enum(['allow', 'deny']),
    determining_policies: z.array(z.object({ policy_id: z.string(), description: z.string() })),
    errors: z.array(
      z.object({
        code: z.enum([
          'unknown_principal',
          'unknown_resource',
          'invalid_request',
          'policy_evaluation',
        ]),
        message: z.string(),
        policy_id: z.string().optional(),
      })
    ),
    rate_limit: RateLimitHitSchema.optional().openapi({
      description: 'When `forbid-rate-limit` denied: the window that is used up',
    }),
  })
  .openapi('Decision')

export const MAX_BATCH = 100

export const BatchAuthorizationRequestSchema = z
  .object({
    organization_id: Id,
    requests: z
      .array(z.unknown())
      .min(1)
      .max(MAX_BATCH)
      .openapi({
        description:
          'Up to 100 AuthorizationItems, each checked on its own: a malformed one gets a deny with its error in its result.',
        items: { $ref: '#/components/schemas/AuthorizationItem' },
      }),
  })
  .strict()
  .openapi('BatchAuthorizationRequest')

export const BatchDecisionSchema = z
  .object({ results: z.array(DecisionSchema) })
  .openapi('BatchDecision')

export const IntrospectionRequestSchema = z.object({ secret: z.string().min(1).max(512) }).strict()

export const IntrospectionSchema = z
  .object({
    active: z.boolean(),
    id: z.string().optional(),
    organization_id: z.string().optional(),
    workspace_id: z.string().optional(),
    member_id: z.string().nullable().optional(),
    expires_at: z.string().nullable().optional(),
  })
  .openapi('ApiKeyIntrospection')

export const PolicySchema = z
  .object({
    id: z.string(),
    object: z.literal('policy'),
    source: z.enum(['builtin', 'custom']),
    effect: z.enum(['permit', 'forbid']),
    description: z.string(),
    cedar: z.string(),
    organization_id: z.string().nullable(),
    created_at: z.string().nullable(),
    updated_at: z.string().nullable(),
    version: z.number().int().nullable(),
  })
  .openapi('Policy')

export const PolicyInputSchema = z
  .object({
    cedar: z.string().min(1).openapi({
      example:
        'forbid (principal, action == Action::"use_chat", resource)\nwhen { context has model && context.model == "claude-opus-4" };',
    }),
    description: z.string().max(500).optional(),
  })
  .strict()

export const PolicyDiagnosticSchema = z
  .object({
    message: z.string(),
    help: z.string().nullable(),
    line: z.number().int().nullable(),
    column: z.number().int().nullable(),
    end_line: z.number().int().nullable(),
    end_column: z.number().int().nullable(),
  })
  .openapi('PolicyDiagnostic')

export const PolicyValidationSchema = z
  .object({
    object: z.literal('policy_validation'),
    valid: z.literal(true),
    id: z.string(),
    effect: z.enum(['permit', 'forbid']),
    description: z.string(),
    warnings: z.array(PolicyDiagnosticSchema),
  })
  .openapi('PolicyValidation')

export const PolicyErrorSchema = z
  .object({
    error: z.object({
      type: z.literal('invalid_request'),
      message: z.string(),
      param: z.string().nullable(),
      request_id: z.string().nullable(),
      diagnostics: z.array(PolicyDiagnosticSchema).optional(),
    }),
  })
  .openapi('PolicyError')
