import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppEnv } from '../http/env.js'
import { errorResponses, json } from '../http/openapi.js'
import { strictQuery } from '../http/query.js'
import { docsRoutes } from './docs.js'

/** Unauthenticated routes: health and the API description. */
export const systemRoutes = new OpenAPIHono<AppEnv>()

systemRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/health',
    tags: ['System'],
    summary: 'Liveness: the process answers and reaches its table',
    middleware: strictQuery(undefined, 'GET /health'),
    responses: {
      200: json(z.object({ status: z.literal('ok'), time: z.string() }), 'Healthy'),
      ...errorResponses(400),
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
