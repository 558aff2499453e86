/**
 * Builds the browser console (console/src → console/dist, or `--out <dir>`): one minified ES
 * module and one stylesheet, named by content hash, and the index.html that loads them. Same
 * sources, same output: the build is deterministic. Run by `npm start` (prestart), the browser
 * tests (their global setup) and the Lambda bundling (infra/bundling.ts).
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const CONSOLE_DIST = join(ROOT, 'console/dist')
const require = createRequire(import.meta.url)

export interface ConsoleBuild {
  outDir: string
  files: string[]
  /** Bytes of JavaScript the first page loads, raw and gzipped (the budget is on gzipped). */
  jsBytes: number
  jsGzipBytes: number
  cssGzipBytes: number
}

function hashed(name: string, ext: string, body: Uint8Array | string): string {
  return `${name}-${createHash('sha256').update(body).digest('hex').slice(0, 12)}.${ext}`
}

export async function buildConsole(outDir = CONSOLE_DIST): Promise<ConsoleBuild> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ['console/src/main.tsx'],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome120', 'firefox121', 'safari17'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: 'console/tsconfig.json',
    legalComments: 'none',
    write: false,
    outfile: 'app.js',
    logLevel: 'warning',
  })
  const js = result.outputFiles[0]!.contents
  const css = [
    readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    readFileSync(join(ROOT, 'console/src/console.css'), 'utf8'),
  ].join('\n')
  const jsName = hashed('app', 'js', js)
  const cssName = hashed('app', 'css', css)
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Admin console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/assets/${cssName}">
<script type="module" src="/console/assets/${jsName}"></script>
</head>
<body>
<div id="app"><main><p>Loading the console…</p><noscript>The console needs JavaScript.</noscript></main></div>
</body>
</html>
`
  const dir = resolve(outDir)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, jsName), js)
  writeFileSync(join(dir, cssName), css)
  writeFileSync(join(dir, 'index.html'), html)
  return {
    outDir: dir,
    files: ['index.html', jsName, cssName],
    jsBytes: js.byteLength,
    jsGzipBytes: gzipSync(js, { level: 9 }).byteLength,
    cssGzipBytes: gzipSync(css, { level: 9 }).byteLength,
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } })
  const built = await buildConsole(values.out)
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
  process.stdout.write(
    `console built in ${built.outDir}: JS ${kb(built.jsBytes)} (${kb(built.jsGzipBytes)} gzipped), CSS ${kb(built.cssGzipBytes)} gzipped\n`
  )
}
