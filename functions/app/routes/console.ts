import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { AppError } from '../../lib/errors.js'
import type { AppEnv } from '../http/env.js'
import { errorResponse } from '../http/errors.js'

/**
 * The browser console (docs/console.md): the static files scripts/build-console.ts writes,
 * served from `deps.consoleDir`. Read on first request, not at init, so the API's cold start
 * does not pay for them; not in the OpenAPI document (it is not part of the API).
 */
export const consoleRoutes = new OpenAPIHono<AppEnv>()

/**
 * Self only: no inline script or style, no other origin, no framing. The admin key lives in
 * this origin's sessionStorage, so nothing else may run here.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

interface Asset {
  body: Uint8Array
  type: string
}

/** The built files by name, loaded once per process (a few hundred KB). */
const loaded = new Map<string, Promise<Map<string, Asset>>>()

function assetsIn(dir: string): Promise<Map<string, Asset>> {
  let assets = loaded.get(dir)
  if (!assets) {
    assets = (async () => {
      const files = new Map<string, Asset>()
      for (const name of await readdir(dir)) {
        const type = TYPES[name.slice(name.lastIndexOf('.'))]
        if (type) files.set(name, { body: await readFile(join(dir, name)), type })
      }
      return files
    })()
    // A failed read (not built yet) is retried on the next request.
    assets.catch(() => loaded.delete(dir))
    loaded.set(dir, assets)
  }
  return assets
}

async function serve(c: Context<AppEnv>, name: string): Promise<Response> {
  const dir = c.get('deps').consoleDir
  const assets = dir ? await assetsIn(dir).catch(() => undefined) : undefined
  const asset = assets?.get(name)
  if (!asset) {
    const message =
      name === 'index.html'
        ? 'The console is not built here: run `npm run build:console` (npm start does it).'
        : `No console file '${name}'.`
    return errorResponse(c, new AppError('not_found', message))
  }
  return new Response(asset.body, {
    headers: {
      'content-type': asset.type,
      'content-security-policy': CONSOLE_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      // Asset names carry a content hash; the page itself must be revalidated.
      'cache-control': name === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable',
    },
  })
}

consoleRoutes.get('/console', (c) => serve(c, 'index.html'))
consoleRoutes.get('/console/', (c) => c.redirect('/console', 301))
consoleRoutes.get('/console/assets/:name', (c) => {
  const name = c.req.param('name')
  // Only names the build writes (letters, digits, '-', '.'): never a path.
  if (!/^[\w-]+\.[a-z]+$/.test(name) || name === 'index.html') {
    return errorResponse(c, new AppError('not_found', `No console file '${name}'.`))
  }
  return serve(c, name)
})
