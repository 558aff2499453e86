import { OpenAPIHono, z } from '@hono/zod-openapi'
import { listAuditEvents } from '../../domain/audit.js'
import { toCsv } from '../../lib/csv.js'
import { invalid } from '../../lib/errors.js'
import { listBody, openCursor, sealCursor } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import { guard, serviceContext } from '../http/handlers.js'
import { AUTH_ERRORS, errorResponses, listOf, Timestamp } from '../http/openapi.js'
import { ADMIN, securedRoute } from '../http/route.js'
import { AuditEventSchema } from '../http/schemas/core.js'

export const auditRoutes = new OpenAPIHono<AppEnv>()

/** CSV exports may ask for big pages; JSON pages stay at the contract's 1..100. */
const MAX_CSV_ROWS = 10_000

const AuditQuery = z.object({
  actor_id: z.string().optional(),
  event_type: z.string().optional(),
  target_id: z.string().optional(),
  after_time: Timestamp.optional().openapi({ description: 'Events at or after this time' }),
  before_time: Timestamp.optional().openapi({ description: 'Events before this time' }),
  format: z.enum(['json', 'csv']).default('json'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_CSV_ROWS)
    .optional()
    .openapi({ description: 'JSON: 1..100 (default 20). CSV: 1..10000 (default 10000)' }),
  after: z.string().min(1).optional(),
})

const CSV_HEADER = [
  'id',
  'occurred_at',
  'event_type',
  'actor_type',
  'actor_id',
  'target_type',
  'target_id',
  'workspace_id',
  'request_id',
  'before',
  'after',
]

auditRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/audit-events',
    tags: ['Audit log'],
    summary: 'Every change made through the API or SCIM, newest first (JSON or CSV)',
    request: { query: AuditQuery },
    responses: {
      200: {
        description: 'Audit events; with format=csv a CSV file whose next page is in X-Next-Cursor',
        headers: {
          'X-Next-Cursor': {
            description: 'CSV only, when more events follow: the next_cursor, sent back as ?after=',
            schema: { type: 'string' },
          },
        },
        content: {
          'application/json': { schema: listOf(AuditEventSchema) },
          'text/csv': { schema: z.string() },
        },
      },
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_audit_log')
    const query = c.req.valid('query')
    const csv = query.format === 'csv'
    if (!csv && query.limit !== undefined && query.limit > 100) {
      throw invalid('limit must be between 1 and 100 for JSON.', 'limit')
    }
    const page = await listAuditEvents(
      serviceContext(c),
      organizationId,
      {
        actor_id: query.actor_id,
        event_type: query.event_type,
        target_id: query.target_id,
        after_time: query.after_time ? new Date(query.after_time) : undefined,
        before_time: query.before_time ? new Date(query.before_time) : undefined,
      },
      { limit: query.limit ?? (csv ? MAX_CSV_ROWS : 20), after: openCursor(c) }
    )
    if (!csv) return c.json(listBody(c, page), 200)
    const next = sealCursor(c, page.next_cursor)
    if (next) c.header('X-Next-Cursor', next)
    const rows = page.data.map((event) => [
      event.id,
      event.occurred_at,
      event.event_type,
      event.actor.type,
      event.actor.id,
      event.target.type,
      event.target.id,
      event.workspace_id,
      event.request_id,
      event.before,
      event.after,
    ])
    return c.body(toCsv(CSV_HEADER, rows), 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': 'attachment; filename="audit-events.csv"',
    })
  }
)
