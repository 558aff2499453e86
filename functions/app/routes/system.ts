import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { Clock } from '../../lib/clock.js'
import type { AppEnv } from '../http/env.js'
import { errorResponses, json } from '../http/openapi.js'
import { strictQuery } from '../http/query.js'
import { docsRoutes } from './docs.js'

const HealthSchema = z.object({ status: z.literal('ok'), time: z.string() })

/**
 * Liveness: the process answers. No store read and no request log line, so it costs about
 * what the framework costs (load balancers and probes call it often); registered by the app
 * before its per-request middleware. Readiness (`/health/ready`) is what reaches the table.
 */
export function livenessRoutes(clock: Clock) {
  const routes = new OpenAPIHono<AppEnv>()
  routes.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      tags: ['System'],
      summary: 'Liveness: the process answers (no store read)',
      middleware: strictQuery(undefined, 'GET /health'),
      responses: {
        200: json(HealthSchema, 'Alive'),
        ...errorResponses(400),
      },
    }),
    (c) => c.json({ status: 'ok' as const, time: clock.now().toISOString() }, 200)
  )
  return routes
}

/** Unauthenticated routes that need the app's dependencies: readiness and the API description. */
export const systemRoutes = new OpenAPIHono<AppEnv>()

systemRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/health/ready',
    tags: ['System'],
    summary: 'Readiness: the process answers and reaches its table',
    middleware: strictQuery(undefined, 'GET /health/ready'),
    responses: {
      200: json(HealthSchema, 'Ready'),
      ...errorResponses(400, 503),
    },
  }),
  async (c) => {
    const { db, clock } = c.get('deps')
    // One cheap read proves the store is reachable (a missing item is fine).
    await db.get({ PK: 'HEALTH', SK: 'HEALTH' }, false)
    return c.json({ status: 'ok' as const, time: clock.now().toISOString() }, 200)
  }
)

// Swagger UI from the app's own swagger-ui-dist, no CDN (docs.ts).
systemRoutes.route('/', docsRoutes)
