import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateSecret } from '../../functions/lib/secrets.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface LocalServer {
  baseUrl: string
  operatorKey: string
  /** The demo organization's organization_admin key, printed once on first start. */
  demoAdminKey: string
  demoOrganizationId: string
  output: () => string
  stop(): Promise<void>
}

/**
 * `npm start` on a fresh store: the real local server process on a free port, with its own
 * DATA_DIR and operator key, and no aggregation timer (tests run the job when they mean to).
 */
export async function startLocalServer(): Promise<LocalServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'admin-engine-browser-'))
  const operatorKey = generateSecret('operator')
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'functions/entry/local-server.ts'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        OPERATOR_KEY: operatorKey,
        AGGREGATION_INTERVAL_SECONDS: '0',
        POWERTOOLS_LOG_LEVEL: 'WARN',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }
  )
  let output = ''
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
  const started = await new Promise<Omit<LocalServer, 'output' | 'stop' | 'operatorKey'>>(
    (resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 60_000)
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        const url = /Admin engine on (http:\/\/\S+:\d+) /.exec(output)?.[1]
        const key = /Demo admin key \(organization_admin, shown once\): (adm_\S+)/.exec(output)?.[1]
        const org = /Demo organization: (org_\S+)/.exec(output)?.[1]
        if (url && key && org) {
          clearTimeout(timer)
          resolve({ baseUrl: url, demoAdminKey: key, demoOrganizationId: org })
        }
      }
      child.stdout!.on('data', onData)
      child.stderr!.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`server exited with ${code}:\n${output}`))
      })
    }
  ).catch(async (error) => {
    await stop()
    throw error
  })
  return { ...started, operatorKey, output: () => output, stop }
}
