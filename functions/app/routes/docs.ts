import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi'
import type { AppEnv } from '../http/env.js'
import { errorResponses } from '../http/openapi.js'
import { strictQuery } from '../http/query.js'

/**
 * `/docs`: Swagger UI over `/openapi.json`, served entirely by this app from the swagger-ui-dist
 * package (no CDN), so it works offline and behind firewalls, with the version package-lock pins.
 * The page and its assets carry a Content-Security-Policy that allows only this origin.
 *
 * The Lambda bundle has no node_modules: it ships the files served here in `swagger-ui/` beside
 * itself (infra/bundling.ts `docsAssets`); everywhere else they are read from the installed
 * package, found the way Node resolves it from this module.
 */
export const docsRoutes = new OpenAPIHono<AppEnv>()

/** The swagger-ui-dist files the page loads, with their media types. */
export const SWAGGER_UI_FILES = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
} as const
type SwaggerUiFile = keyof typeof SWAGGER_UI_FILES

/** Only this origin: scripts, styles, the spec and icons (Swagger UI's CSS inlines SVG as data:). */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

// Relative URLs, so the page also works under a path prefix (an API Gateway stage).
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Admin engine API</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/init.js"></script>
</body>
</html>
`

// An external script, not inline, so the CSP needs no 'unsafe-inline'. validatorUrl: null keeps
// Swagger UI from sending the spec to validator.swagger.io.
const INIT = `window.ui = SwaggerUIBundle({
  url: new URL('openapi.json', document.baseURI).href,
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
});
`

let packageDir: string | undefined

function swaggerUiDir(): string {
  const besideBundle = join(dirname(fileURLToPath(import.meta.url)), 'swagger-ui')
  if (existsSync(join(besideBundle, 'swagger-ui-bundle.js'))) return besideBundle
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
}
const contents = new Map<SwaggerUiFile, Promise<Buffer>>()

/** A file of swagger-ui-dist, read once on first use (never at cold start). */
function swaggerUiFile(file: SwaggerUiFile): Promise<Buffer> {
  let content = contents.get(file)
  if (!content) {
    packageDir ??= swaggerUiDir()
    content = readFile(join(packageDir, file))
    // A failed read is retried by the next request instead of being cached.
    content.catch(() => contents.delete(file))
    contents.set(file, content)
  }
  return content
}

const securityHeaders = {
  'content-security-policy': DOCS_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

docsRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/docs',
    tags: ['System'],
    summary: 'Swagger UI for this API (served from the app itself, works offline)',
    middleware: strictQuery(undefined, 'GET /docs'),
    responses: {
      200: {
        description: 'The Swagger UI page; it loads /docs/assets/* and /openapi.json',
        content: { 'text/html': { schema: z.string() } },
      },
      ...errorResponses(400),
    },
  }),
  (c) =>
    c.body(PAGE, 200, {
      ...securityHeaders,
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-cache',
    })
)

// Anything else is a 400 naming `file` (the parameter's enum), never a file read.
const ASSET_NAMES = ['init.js', 'swagger-ui.css', 'swagger-ui-bundle.js'] as const

docsRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/docs/assets/{file}',
    tags: ['System'],
    summary: "A file of the /docs page (Swagger UI's script and style sheet)",
    middleware: strictQuery(undefined, 'GET /docs/assets/{file}'),
    request: { params: z.object({ file: z.enum(ASSET_NAMES) }) },
    responses: {
      200: {
        description: 'The file',
        content: {
          'text/javascript': { schema: z.string() },
          'text/css': { schema: z.string() },
        },
      },
      ...errorResponses(400),
    },
  }),
  async (c) => {
    const { file } = c.req.valid('param')
    const headers = { ...securityHeaders, 'cache-control': 'public, max-age=3600' }
    if (file === 'init.js') {
      return c.body(INIT, 200, { ...headers, 'content-type': 'text/javascript; charset=utf-8' })
    }
    const body = await swaggerUiFile(file)
    return c.body(new Uint8Array(body), 200, { ...headers, 'content-type': SWAGGER_UI_FILES[file] })
  }
)
