import { OpenAPIHono } from '@hono/zod-openapi'
import { busy } from '../../lib/errors.js'
import { ON_DEMAND_RUN_BUDGET_MS, runAggregation } from '../../usage/aggregation.js'
import type { AppEnv } from '../http/env.js'
import { AUTH_ERRORS, errorResponses, json } from '../http/openapi.js'
import { OPERATOR, securedRoute } from '../http/route.js'
import { AggregationSummarySchema } from '../http/schemas/usage.js'

/** Operator-triggered jobs. */
export const jobRoutes = new OpenAPIHono<AppEnv>()

jobRoutes.openapi(
  securedRoute(OPERATOR, {
    method: 'post',
    path: '/v1/jobs/aggregate',
    tags: ['Operator'],
    summary: 'Run one usage-aggregation pass now and return its summary',
    description:
      'The same pass the schedule runs, with a shorter time budget (a large backlog is left to ' +
      'the next run). One runs at a time: while another is in progress → 409 with ' +
      '`Retry-After` (seconds until its lease ends: a run that died is replaced within 30 s).',
    responses: {
      200: json(AggregationSummarySchema, 'What the pass did'),
      ...errorResponses(...AUTH_ERRORS),
      409: {
        ...errorResponses(409)[409],
        headers: {
          'Retry-After': {
            description: 'Seconds until the running pass’s lease ends (at least 1)',
            schema: { type: 'integer', minimum: 1 },
          },
        },
      },
    },
  }),
  async (c) => {
    const { db, clock, alertPublisher } = c.get('deps')
    const summary = await runAggregation({
      db,
      clock,
      publisher: alertPublisher,
      runBudgetMs: ON_DEMAND_RUN_BUDGET_MS,
    })
    if (summary.status === 'skipped') {
      const heldMs = Date.parse(summary.lock_held_until ?? '') - clock.now().getTime()
      // The lock is free only once its lease is strictly past: the next whole second after it.
      throw busy(
        'Another aggregation run is in progress; try again after Retry-After seconds.',
        Math.floor(Math.max(0, Number.isFinite(heldMs) ? heldMs : 0) / 1000) + 1
      )
    }
    return c.json(summary, 200)
  }
)
