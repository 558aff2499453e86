import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Duration, RemovalPolicy } from 'aws-cdk-lib'
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda'
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs'
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs'
import type { IQueue } from 'aws-cdk-lib/aws-sqs'
import type { Construct } from 'constructs'

/** Where Lambda unpacks the asset; the policies are shipped under it. */
export const LAMBDA_TASK_ROOT = '/var/task'
export const POLICY_DIR = `${LAMBDA_TASK_ROOT}/policies`

const require = createRequire(import.meta.url)
/**
 * cedar-wasm's nodejs build (its JS glue and the `cedar_wasm_bg.wasm` it reads from its own
 * directory). The engine evaluates the glue itself, to build a fresh instance after a wasm
 * trap (functions/authz/cedar-wasm.ts), so both files sit beside the bundle.
 */
export const CEDAR_GLUE_FILE = require.resolve('@cedar-policy/cedar-wasm/nodejs')
export const CEDAR_WASM_FILE = join(dirname(CEDAR_GLUE_FILE), 'cedar_wasm_bg.wasm')
export const POLICIES_SOURCE = fileURLToPath(new URL('../policies/', import.meta.url))
/** The build step that compiles the built-in policies beside the bundle (infra/compile-policies.ts). */
const COMPILE_POLICIES = fileURLToPath(new URL('./compile-policies.ts', import.meta.url))
const TSX_CLI = require.resolve('tsx/cli')

/** esbuild settings shared by the stack and the bundle benchmark (which rebuilds variants). */
export const ESBUILD_TARGET = 'node24'
export const MAIN_FIELDS = ['module', 'main']
/**
 * ESM output lets an entry await its cold-start setup (top-level await, run in Lambda's init
 * phase). Bundled CommonJS code still expects `require` and `__dirname` (cedar-wasm's nodejs
 * build reads its .wasm with them), which ESM lacks: the banner defines them.
 */
export const ESM_BANNER = [
  "import{createRequire as __cjsRequire}from'node:module'",
  "import{dirname as __cjsDirname}from'node:path'",
  "import{fileURLToPath as __cjsPath}from'node:url'",
  'const require=__cjsRequire(import.meta.url)',
  'const __filename=__cjsPath(import.meta.url)',
  'const __dirname=__cjsDirname(__filename);',
].join(';')

/**
 * zod's entry without its locales, for the bundles (esbuild `alias` of `zod`). @hono/zod-openapi
 * hands the whole `z` namespace to a function, so esbuild keeps every export of it and of
 * `z.core`, and with them zod's ~40 locales: 255 KiB of the API bundle's 1,235, ≈ 40 ms of CPU
 * at each cold start (`npm run bench -- bundles` rebuilds the API with them). English, the only
 * locale the API uses, is registered by `ZodType` itself. Written from the installed zod at synth
 * time (its classic `external.js` and `core/index.js`, each less its `locales` line, paths made
 * absolute), so it cannot drift from the version the tests ran; test/bundling.test.ts compares
 * its exports with zod's.
 */
export function zodWithoutLocales(): string {
  zodEntry ??= writeZodWithoutLocales()
  return zodEntry
}

/** Once per process: every function of a synth, and every bench rebuild, shares the entry. */
let zodEntry: string | undefined

function writeZodWithoutLocales(): string {
  const v4 = join(dirname(require.resolve('zod/package.json')), 'v4')
  const LOCALES = 'export * as locales from "../locales/index.js";\n'
  const without = (file: string, relink: Record<string, string> = {}) => {
    const source = readFileSync(join(v4, file), 'utf8')
    if (source.split(LOCALES).length !== 2) {
      throw new Error(`zod's v4/${file} no longer exports its locales as expected`)
    }
    return source.replace(LOCALES, '').replace(/from "(\.\.?\/[^"]+)"/g, (_, path: string) => {
      const target = relink[path] ?? resolve(v4, dirname(file), path)
      return `from ${JSON.stringify(target)}`
    })
  }
  const files = {
    'core.js': without('core/index.js'),
    'external.js': without('classic/external.js', { '../core/index.js': './core.js' }),
    'index.js':
      'import * as z from "./external.js";\nexport * from "./external.js";\nexport { z, z as default };\n',
  }
  const hash = createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 16)
  const dir = join(tmpdir(), `admin-engine-zod-${hash}`)
  if (!existsSync(dir)) {
    // Written beside, then renamed: builds running at once each see whole files.
    const scratch = `${dir}.${process.pid}`
    mkdirSync(scratch, { recursive: true })
    for (const [name, text] of Object.entries(files)) writeFileSync(join(scratch, name), text)
    try {
      renameSync(scratch, dir)
    } catch (error) {
      // Another build wrote the same files first: use them.
      rmSync(scratch, { recursive: true, force: true })
      if (!existsSync(dir)) throw error
    }
  }
  return join(dir, 'index.js')
}

/** Packages the bundles take from elsewhere (esbuild `alias`): see zodWithoutLocales. */
export function bundleAliases(): Record<string, string> {
  return { zod: zodWithoutLocales() }
}

const quote = (path: string) => `'${path.replaceAll("'", "'\\''")}'`

/**
 * The swagger-ui-dist files `/docs` serves (functions/app/routes/docs.ts), with its licence:
 * the API bundle has no node_modules, so they sit in `swagger-ui/` beside it, where docs.ts
 * looks first. test/bundle-smoke.test.ts fetches each served file from the built function.
 */
export const SWAGGER_UI_DIR = dirname(require.resolve('swagger-ui-dist/package.json'))
export const SWAGGER_UI_SHIPPED = ['swagger-ui.css', 'swagger-ui-bundle.js', 'LICENSE', 'NOTICE']

/** Shell commands that put the /docs assets beside the bundle. */
export function docsAssets(outputDir: string): string[] {
  const files = SWAGGER_UI_SHIPPED.map((file) => quote(join(SWAGGER_UI_DIR, file))).join(' ')
  return [
    `mkdir -p ${quote(`${outputDir}/swagger-ui`)}`,
    `cp ${files} ${quote(`${outputDir}/swagger-ui`)}/`,
  ]
}

/**
 * Shell commands that put cedar-wasm and the Cedar schema/policies beside the bundle, with the
 * policies compiled (ids, descriptions, schema JSON: computed here, not at each cold start).
 */
export function assetExtras(outputDir: string): string[] {
  return [
    `cp ${quote(CEDAR_GLUE_FILE)} ${quote(CEDAR_WASM_FILE)} ${quote(outputDir)}/`,
    `mkdir -p ${quote(`${outputDir}/policies`)}`,
    `cp ${quote(POLICIES_SOURCE)}*.cedar* ${quote(`${outputDir}/policies`)}/`,
    `${quote(process.execPath)} ${quote(TSX_CLI)} ${quote(COMPILE_POLICIES)} ${quote(`${outputDir}/policies`)}`,
  ]
}

/** The shell command that builds the browser console into the asset (run in the project root). */
export function consoleBuild(outputDir: string): string[] {
  return [`node_modules/.bin/tsx scripts/build-console.ts --out ${quote(`${outputDir}/console`)}`]
}

export interface NodeFunctionProps {
  /** The entry module (exports `handler`). */
  entry: string
  description: string
  environment?: Record<string, string>
  timeout?: Duration
  memorySize?: number
  /**
   * Whether the function makes Cedar decisions (default true): then the cedar wasm and the
   * policies are shipped beside the bundle and POLICY_DIR points at them. A function that does
   * not import the engine would only carry 4 MiB of wasm it never loads.
   */
  cedar?: boolean
  /** Whether the function serves `/docs` (default false): then Swagger UI's files ship beside it. */
  docs?: boolean
  /**
   * Whether the browser console ships beside the bundle (default false): built into
   * `console/` of the asset by scripts/build-console.ts, read by the API on first request.
   */
  console?: boolean
  /** Asynchronous invocations (e.g. EventBridge Scheduler): retries, then this queue. */
  asyncInvocation?: { retryAttempts: number; maxEventAge: Duration; deadLetterQueue: IQueue }
}

/**
 * A Node.js 24 arm64 function bundled by esbuild (minified, source maps, AWS SDK v3 bundled),
 * with the cedar wasm and policies beside the bundle (unless `cedar: false`) and a log group
 * with retention.
 */
export function createNodeFunction(
  scope: Construct,
  id: string,
  props: NodeFunctionProps
): NodejsFunction {
  const logGroup = new LogGroup(scope, `${id}Logs`, {
    retention: RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  })
  const cedar = props.cedar ?? true
  const docs = props.docs ?? false
  return new NodejsFunction(scope, id, {
    entry: props.entry,
    handler: 'handler',
    description: props.description,
    // The runtime the project runs everywhere else (package.json engines, docs/runtime.md).
    runtime: Runtime.NODEJS_24_X,
    architecture: Architecture.ARM_64,
    memorySize: props.memorySize ?? 1024,
    timeout: props.timeout ?? Duration.seconds(29),
    logGroup,
    ...(props.asyncInvocation ?? {}),
    environment: {
      ...(cedar ? { POLICY_DIR } : {}),
      // Stack traces point into the TypeScript sources (the bundle ships its .map).
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'admin-engine',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      ...props.environment,
    },
    bundling: {
      format: OutputFormat.ESM,
      target: ESBUILD_TARGET,
      mainFields: MAIN_FIELDS,
      minify: true,
      sourceMap: true,
      sourcesContent: false,
      banner: ESM_BANNER,
      esbuildArgs: Object.fromEntries(
        Object.entries(bundleAliases()).map(([name, path]) => [`--alias:${name}`, path])
      ),
      // Measured (`npm run bench -- bundles`, README "Bundle figures"): bundling the SDK is not
      // slower to start than loading the runtime's copy, costs ~0.25 MiB zipped, and the
      // artifact then runs exactly the SDK version the tests ran.
      bundleAwsSDK: true,
      forceDockerBundling: false,
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        afterBundling: (_inputDir, outputDir) => [
          ...(cedar ? assetExtras(outputDir) : []),
          ...(docs ? docsAssets(outputDir) : []),
          ...(props.console ? consoleBuild(outputDir) : []),
        ],
      },
    },
  })
}
