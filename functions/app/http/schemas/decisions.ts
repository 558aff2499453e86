import { z } from '@hono/zod-openapi'
import { PRODUCT_ACTIONS } from '../../../model/index.js'

/** Schemas of the decision log, policy simulation and reverse queries (docs/decision-log.md). */

const DeterminingPolicies = z.array(z.object({ policy_id: z.string(), description: z.string() }))

const EntityRefSchema = z.object({ type: z.string(), id: z.string() })

export const DecisionRecordSchema = z
  .object({
    id: z.string().openapi({ example: 'dec_01JD4V6S9Y3T2WQ7P1J5KX8N0M' }),
    object: z.literal('decision'),
    organization_id: z.string(),
    decided_at: z.string(),
    caller: z.object({ type: z.enum(['service_key', 'admin_key']), id: z.string() }),
    request: z.object({
      principal: EntityRefSchema.nullable(),
      action: z.string().nullable(),
      resource: EntityRefSchema.nullable(),
      context: z.record(z.string(), z.unknown()).nullable(),
    }),
    decision: z.enum(['allow', 'deny']),
    determining_policies: DeterminingPolicies,
    errors: z.array(
      z.object({ code: z.string(), message: z.string(), policy_id: z.string().optional() })
    ),
    revision: z
      .object({ revision: z.number().int(), policy_revision: z.number().int() })
      .openapi({ description: "The organization's revisions the decision was made at" }),
    expires_at: z.string().openapi({ description: 'When it leaves the log (30 days)' }),
  })
  .openapi('DecisionRecord')

const PolicyChangeSchema = z.union([
  z
    .object({
      id: z.string().min(1).max(64),
      cedar: z.string().min(1),
      description: z.string().max(500).optional(),
    })
    .strict(),
  z.object({ id: z.string().min(1).max(64), delete: z.literal(true) }).strict(),
])

export const SimulationRequestSchema = z
  .object({
    changes: z.array(PolicyChangeSchema).min(1).max(100).openapi({
      description:
        'Custom policies to add or replace ({id, cedar}) or delete ({id, delete: true}), checked as strictly as PUT /v1/policies/{id}',
    }),
    after_time: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: 'Replay decisions made at or after this time' }),
    limit: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .optional()
      .openapi({ description: 'Replay at most this many, newest first (default 100000)' }),
  })
  .strict()

export const SimulationReportSchema = z
  .object({
    object: z.literal('policy_simulation'),
    replayed: z.number().int(),
    unchanged: z.number().int(),
    changed: z
      .array(
        z.object({
          decision_id: z.string(),
          before: z.enum(['allow', 'deny']),
          after: z.enum(['allow', 'deny']),
          determining_policies: DeterminingPolicies.openapi({
            description: 'The policies that determined the decision with the proposed set',
          }),
        })
      )
      .openapi({
        description:
          'The decisions the proposed set decides differently, in the order replayed; at most 10,000 are listed (see changed_truncated)',
      }),
    changed_count: z
      .number()
      .int()
      .openapi({ description: 'How many decisions flip, listed or not' }),
    changed_truncated: z.boolean().openapi({
      description:
        'True when more decisions flip than are listed: narrow the replay with after_time or limit to list them',
    }),
    summary: z.object({ allow_to_deny: z.number().int(), deny_to_allow: z.number().int() }),
  })
  .openapi('PolicySimulation')

export const ActionQuery = z.object({
  action: z.enum(PRODUCT_ACTIONS).openapi({ description: 'The product action' }),
})

export const AuthorizedPrincipalSchema = z
  .object({
    object: z.literal('authorized_principal'),
    principal: z.object({ type: z.enum(['Member', 'ApiKey']), id: z.string() }),
    determining_policies: DeterminingPolicies,
  })
  .openapi('AuthorizedPrincipal')

export const AuthorizedWorkspaceSchema = z
  .object({
    object: z.literal('authorized_workspace'),
    workspace_id: z.string(),
    determining_policies: DeterminingPolicies,
  })
  .openapi('AuthorizedWorkspace')
