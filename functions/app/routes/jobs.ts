import { OpenAPIHono } from '@hono/zod-openapi'
import { ON_DEMAND_RUN_BUDGET_MS, runAggregation } from '../../domain/aggregation.js'
import { conflict } from '../../lib/errors.js'
import type { AppEnv } from '../env.js'
import { AUTH_ERRORS, errorResponses, json } from '../openapi.js'
import { OPERATOR, securedRoute } from '../route.js'
import { AggregationSummarySchema } from '../usage-schemas.js'

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
      'the next run). One runs at a time: while another is in progress → 409.',
    responses: {
      200: json(AggregationSummarySchema, 'What the pass did'),
      ...errorResponses(...AUTH_ERRORS, 409),
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
      throw conflict('Another aggregation run is in progress; try again shortly.')
    }
    return c.json(summary, 200)
  }
)
