import { createMiddleware } from 'hono/factory'
import { RequestLog } from '../../../lib/logger.js'
import type { AppEnv, RequestDeps } from '../env.js'

/**
 * Gives each request its dependencies and a log carrying the request id, and writes
 * one structured line per request (method, path, status, duration). Headers and bodies are
 * not logged, so secrets never reach the log.
 */
export function requestContext(deps: RequestDeps) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const started = performance.now()
    const log = new RequestLog({ request_id: c.get('requestId') })
    c.set('log', log)
    c.set('deps', deps)
    await next()
    log.info('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
    })
  })
}
