import { type ChildProcess, fork, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LAMBDA_TASK_ROOT } from '../../../infra/bundling.js'

/** One Lambda function of a synthesized template and its built asset in the cloud assembly. */
export interface LambdaAsset {
  logicalId: string
  /** Construct path, e.g. `AdminEngine-smoke/Api/Function/Resource`. */
  path: string
  assetDir: string
  /** The handler module's file name inside the asset and its export. */
  handlerFile: string
  exportName: string
  /** Environment as in the template (values may be CloudFormation references). */
  environment: Record<string, unknown>
  memorySize: number
  /** The template's Lambda runtime, e.g. `nodejs24.x`. */
  runtime: string
}

export interface SynthesizedStack {
  outdir: string
  stackName: string
  template: Template
  functions: LambdaAsset[]
}

interface FunctionProperties {
  Handler?: string
  Runtime?: string
  MemorySize?: number
  Environment?: { Variables?: Record<string, unknown> }
}

export interface Template {
  Resources: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, string> }
  >
}

type RunnerMessage =
  | { type: 'ready'; initMs: number; initCpuMs: number }
  | { type: 'init-error'; error: string }
  | { type: 'result'; id: string; result: unknown; ms: number; cpuMs: number }
  | { type: 'error'; id: string; error: string; ms: number }

const REPO = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * Synthesizes the stack into `outdir` exactly as a user does — `npm run synth` (the CDK CLI
 * running infra/app.ts, real esbuild bundling) with `-c` context — and lists its Lambda
 * functions with their built assets.
 */
export function synthesizeWithBundling(
  outdir: string,
  context: Record<string, string> = {}
): SynthesizedStack {
  const args = ['run', '--silent', 'synth', '--', '--output', outdir]
  for (const [key, value] of Object.entries(context)) args.push('--context', `${key}=${value}`)
  const run = spawnSync('npm', args, { cwd: REPO, encoding: 'utf8' })
  if (run.status !== 0) {
    throw new Error(`npm run synth failed (${run.status}):\n${run.stdout}\n${run.stderr}`)
  }
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>
  }
  const stacks = Object.entries(manifest.artifacts).filter(
    ([, artifact]) => artifact.type === 'aws:cloudformation:stack'
  )
  if (stacks.length !== 1) throw new Error(`expected one stack in ${outdir}, got ${stacks.length}`)
  const [name, artifact] = stacks[0]!
  const template = JSON.parse(
    readFileSync(join(outdir, artifact.properties!.templateFile!), 'utf8')
  ) as Template
  const functions = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
    .map(([logicalId, resource]): LambdaAsset => {
      const properties = (resource.Properties ?? {}) as FunctionProperties
      const assetPath = resource.Metadata?.['aws:asset:path']
      if (!assetPath) throw new Error(`${logicalId} has no asset`)
      const [file, exportName] = splitHandler(String(properties.Handler))
      const assetDir = join(outdir, assetPath)
      const handlerFile = ['.mjs', '.js', '.cjs']
        .map((extension) => `${file}${extension}`)
        .find((name) => existsSync(join(assetDir, name)))
      if (!handlerFile) throw new Error(`${logicalId}: no ${file}.mjs/.js in ${assetDir}`)
      return {
        logicalId,
        path: String(resource.Metadata?.['aws:cdk:path']),
        assetDir,
        handlerFile,
        exportName,
        environment: properties.Environment?.Variables ?? {},
        memorySize: Number(properties.MemorySize ?? 128),
        runtime: String(properties.Runtime),
      }
    })
  return { outdir, stackName: name, template, functions }
}

function splitHandler(handler: string): [string, string] {
  const dot = handler.lastIndexOf('.')
  return [handler.slice(0, dot), handler.slice(dot + 1)]
}

/**
 * The function's template environment with each `{Ref}` replaced by the local stand-in for that
 * resource type (e.g. the test table's name), and paths under /var/task moved to `taskRoot`.
 * Any other CloudFormation expression is an error, so a new variable cannot go unnoticed.
 */
export function resolveEnvironment(
  stack: SynthesizedStack,
  asset: LambdaAsset,
  taskRoot: string,
  standIns: Record<string, string>
): Record<string, string> {
  const resolved: Record<string, string> = {}
  for (const [name, value] of Object.entries(asset.environment)) {
    if (typeof value === 'string') {
      resolved[name] = value.startsWith(`${LAMBDA_TASK_ROOT}/`)
        ? join(taskRoot, value.slice(LAMBDA_TASK_ROOT.length))
        : value
      continue
    }
    const ref = (value as { Ref?: string }).Ref
    const type = ref ? stack.template.Resources[ref]?.Type : undefined
    const standIn = type ? standIns[type] : undefined
    if (standIn === undefined) {
      throw new Error(`${asset.logicalId}: no local stand-in for ${name}=${JSON.stringify(value)}`)
    }
    resolved[name] = standIn
  }
  return resolved
}

/** Copies the asset to a fresh directory outside the repository (no node_modules to fall back on). */
export function copyToCleanDirectory(asset: LambdaAsset): string {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-task-'))
  cpSync(asset.assetDir, dir, { recursive: true })
  return dir
}

export interface Invocation<T = unknown> {
  result: T
  /** Wall-clock and CPU (all threads of the process) milliseconds of the handler call. */
  ms: number
  cpuMs: number
}

export interface LocalLambda {
  /** How long importing the handler module took (Lambda's init phase). */
  initMs: number
  initCpuMs: number
  invoke<T = unknown>(event: unknown): Promise<Invocation<T>>
  /** What the function wrote to stdout and stderr so far. */
  output(): string
  close(): void
}

const RUNNER = fileURLToPath(new URL('./runner.mjs', import.meta.url))

/**
 * Starts the asset copied in `taskRoot` in a new, bare Node process (no loaders, no inherited
 * environment) with a Lambda-like environment plus `environment`.
 */
export async function startLocalLambda(
  asset: LambdaAsset,
  taskRoot: string,
  environment: Record<string, string>
): Promise<LocalLambda> {
  const functionName = asset.logicalId
  // The asset runs on this process's Node: it must be the major the template deploys it on.
  const local = `nodejs${process.versions.node.split('.')[0]}.x`
  if (asset.runtime !== local) {
    throw new Error(`${functionName} declares ${asset.runtime} but this process runs ${local}`)
  }
  const child: ChildProcess = fork(RUNNER, [join(taskRoot, asset.handlerFile), asset.exportName], {
    cwd: taskRoot,
    execArgv: [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      TZ: ':UTC',
      LANG: 'en_US.UTF-8',
      LAMBDA_TASK_ROOT: taskRoot,
      AWS_EXECUTION_ENV: `AWS_Lambda_${asset.runtime}`,
      AWS_LAMBDA_FUNCTION_NAME: functionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(asset.memorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'ASIALOCALLAMBDA',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_SESSION_TOKEN: 'local',
      ...environment,
    },
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8')
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8')
  })

  const pending = new Map<
    string,
    { resolve: (value: Invocation) => void; reject: (error: Error) => void }
  >()
  let sequence = 0
  const init = await new Promise<{ initMs: number; initCpuMs: number }>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`${functionName} exited (${code}) during init:\n${output}`))
    )
    child.on('message', (message: RunnerMessage) => {
      if (message.type === 'ready') resolve(message)
      else if (message.type === 'init-error') {
        reject(new Error(`${functionName} init failed: ${message.error}\n${output}`))
      } else {
        const waiter = pending.get(message.id)
        pending.delete(message.id)
        if (message.type === 'result')
          waiter?.resolve({ result: message.result, ms: message.ms, cpuMs: message.cpuMs })
        else waiter?.reject(new Error(`${functionName} handler threw: ${message.error}`))
      }
    })
  })
  child.removeAllListeners('exit')
  child.once('exit', (code) => {
    for (const waiter of pending.values()) {
      waiter.reject(new Error(`${functionName} exited (${code}):\n${output}`))
    }
    pending.clear()
  })

  return {
    initMs: init.initMs,
    initCpuMs: init.initCpuMs,
    invoke: <T>(event: unknown) =>
      new Promise<Invocation<T>>((resolve, reject) => {
        const id = `invoke-${++sequence}`
        pending.set(id, { resolve: resolve as (value: Invocation) => void, reject })
        child.send({ type: 'invoke', id, event })
      }),
    output: () => output,
    close: () => {
      child.kill()
    },
  }
}

/** Removes a directory made by copyToCleanDirectory or a synthesis outdir. */
export function removeDirectory(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}
