/**
 * Servers the benchmark suites start as child processes, so that neither the API nor the
 * baseline shares an event loop with autocannon or the store: the API as `npm start` runs it
 * (functions/entry/local-server.ts, here over a given store endpoint) and a bare Hono hello
 * world on @hono/node-server (bench/hello-world.ts), the framework's own speed.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface ChildServer {
  url: string
  pid: number
  stop(): Promise<void>
  /** CPU time (user + system, ms) the process has used so far (Linux /proc). */
  cpuMs(): number
}

/** The API (`npm start`'s entry) over the store at `endpoint`, on a free port. */
export function startApiServer(
  endpoint: string,
  operatorKey: string,
  tableName: string
): Promise<ChildServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-api-'))
  // BENCH_API_CPU_PROF=<dir>: the API writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_API_CPU_PROF
  return startChild(
    [
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
      '--import',
      'tsx',
      'functions/entry/local-server.ts',
    ],
    {
      PORT: '0',
      DATA_DIR: dataDir,
      DYNAMODB_ENDPOINT: endpoint,
      TABLE_NAME: tableName,
      OPERATOR_KEY: operatorKey,
      AGGREGATION_INTERVAL_SECONDS: '0',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    },
    /Admin engine on (http:\/\/\S+?:\d+)/,
    () => rmSync(dataDir, { recursive: true, force: true })
  )
}

/** The baseline: `GET /` → "Hello Hono!" with nothing else, on a free port. */
export function startHelloWorld(): Promise<ChildServer> {
  return startChild(['--import', 'tsx', 'bench/hello-world.ts'], {}, /listening on (\S+)/)
}

function startChild(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  cleanUp: () => void = () => {}
): Promise<ChildServer> {
  const child: ChildProcess = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stop = async () => {
    // A server that already exited (crashed) fires no further 'exit': do not wait for one.
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
    }
    cleanUp()
  }
  return new Promise<ChildServer>((resolve, reject) => {
    let output = ''
    const fail = (error: Error) => {
      // A server that never came up must not keep this process alive.
      child.kill('SIGKILL')
      cleanUp()
      reject(error)
    }
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${output}`)), 120_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = ready.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve({ url: match[1]!, pid: child.pid!, stop, cpuMs: () => cpuMsOf(child.pid!) })
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited ${code}:\n${output}`))
    })
  })
}

/** utime + stime of a process, from /proc/<pid>/stat (clock ticks of 10 ms on Linux). */
export function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return Number.NaN
  }
}
