import { OpenAPIHono, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { type DecidedEntry, getDecision, listDecisions } from '../../domain/decision-log.js'
import { simulatePolicies } from '../../domain/simulation.js'
import { notFound } from '../../lib/errors.js'
import type { DecisionRecord } from '../../model/index.js'
import { listBody, openCursor } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import { guard } from '../http/handlers.js'
import {
  AUTH_ERRORS,
  errorResponses,
  IdParam,
  json,
  jsonBody,
  listOf,
  PageQuery,
  Timestamp,
} from '../http/openapi.js'
import { ADMIN, securedRoute } from '../http/route.js'
import { PolicyErrorSchema } from '../http/schemas/authz.js'
import {
  DecisionRecordSchema,
  SimulationReportSchema,
  SimulationRequestSchema,
} from '../http/schemas/decisions.js'

/** The decision log and policy simulation (docs/decision-log.md). */
export const decisionRoutes = new OpenAPIHono<AppEnv>()

/**
 * The decision-log hook of `/v1/authorize*`: records the finished results (sampling, batching
 * and when they are written are the recorder's) and returns their ids, in order.
 */
export function recordDecisions(
  c: Context<AppEnv>,
  organizationId: string,
  entries: readonly DecidedEntry[]
): Promise<string[]> {
  const principal = c.get('principal')
  const caller: DecisionRecord['caller'] = {
    type: principal.kind === 'admin' ? 'admin_key' : 'service_key',
    id: principal.id,
  }
  const { decisionLog, clock } = c.get('deps')
  return decisionLog.record(organizationId, caller, entries, clock.now())
}

const refOf = (value: unknown): { type: string; id: string } | null => {
  if (typeof value !== 'object' || value === null) return null
  const { type, id } = value as Record<string, unknown>
  return typeof type === 'string' && typeof id === 'string' ? { type, id } : null
}

/** A batch item as recorded: its fields when they have the right shape, else null. */
export function recordedRequest(item: unknown): DecisionRecord['request'] {
  const fields = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>
  const context = fields.context
  return {
    principal: refOf(fields.principal),
    action: typeof fields.action === 'string' ? fields.action : null,
    resource: refOf(fields.resource),
    context:
      typeof context === 'object' && context !== null && !Array.isArray(context)
        ? (context as Record<string, unknown>)
        : null,
  }
}

const tags = ['Decision log']

const DecisionQuery = PageQuery.extend({
  principal_id: z.string().min(1).max(100).optional(),
  action: z.string().min(1).max(100).optional(),
  decision: z.enum(['allow', 'deny']).optional(),
  workspace_id: z.string().min(1).max(100).optional(),
  after_time: Timestamp.optional().openapi({ description: 'Decisions at or after this time' }),
  before_time: Timestamp.optional().openapi({ description: 'Decisions before this time' }),
})

decisionRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/decisions',
    tags,
    summary: "The organization's recorded product decisions, newest first (kept 30 days)",
    description:
      'organization_admin only. Allowed decisions may be sampled (`settings.decision_log_sample_rate`); denies are always kept.',
    request: { query: DecisionQuery },
    responses: {
      200: json(listOf(DecisionRecordSchema), 'Decisions'),
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_decisions')
    const query = c.req.valid('query')
    const { db, clock, decisionLog } = c.get('deps')
    // Read-your-writes: what this process still buffers is written first.
    await decisionLog.flush()
    const page = await listDecisions(
      db,
      organizationId,
      {
        principal_id: query.principal_id,
        action: query.action,
        decision: query.decision,
        workspace_id: query.workspace_id,
        after_time: query.after_time ? new Date(query.after_time) : undefined,
        before_time: query.before_time ? new Date(query.before_time) : undefined,
      },
      { limit: query.limit, after: openCursor(c) },
      clock.now()
    )
    return c.json(listBody(c, page), 200)
  }
)

decisionRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/decisions/{id}',
    tags,
    summary: 'One recorded decision: the request, the result and the revision it was made at',
    request: { params: IdParam },
    responses: {
      200: json(DecisionRecordSchema, 'The decision'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_decisions')
    const { id } = c.req.valid('param')
    const { db, clock, decisionLog } = c.get('deps')
    await decisionLog.flush()
    const record = await getDecision(db, organizationId, id, clock.now())
    if (!record) throw notFound('decision', id, 'id')
    return c.json(record, 200)
  }
)

decisionRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'post',
    path: '/v1/policies/simulate',
    tags: ['Policies'],
    summary: 'Replay recorded decisions with proposed custom-policy changes; changes nothing',
    description:
      "Each recorded request (its context, at its time) is decided over today's facts with the current policies and with the proposed ones, in the same Cedar engine as live decisions; the decisions that flip are listed. A change that PUT /v1/policies/{id} would refuse → 400 with Cedar's diagnostics. organization_admin only.",
    request: { body: jsonBody(SimulationRequestSchema) },
    responses: {
      200: json(SimulationReportSchema, 'What flips'),
      400: json(PolicyErrorSchema, "Invalid: Cedar's diagnostics, each with line and column"),
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'simulate_policies')
    const body = c.req.valid('json')
    const { db, clock, decisions, decisionLog } = c.get('deps')
    await decisionLog.flush()
    const report = await simulatePolicies(
      db,
      decisions,
      organizationId,
      {
        changes: body.changes,
        after_time: body.after_time ? new Date(body.after_time) : undefined,
        limit: body.limit,
      },
      clock.now()
    )
    return c.json(report, 200)
  }
)
