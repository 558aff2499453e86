import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

/** `npm start` as a newcomer runs it: a real process, a persisted embedded store, printed keys. */
const dataDir = mkdtempSync(join(tmpdir(), 'admin-engine-start-'))
const children: ChildProcess[] = []

afterAll(() => {
  for (const child of children) child.kill('SIGTERM')
  rmSync(dataDir, { recursive: true, force: true })
})

interface Started {
  child: ChildProcess
  output: string
  /** Everything the process wrote so far (the banner, then JSON log lines). */
  log: () => string
  baseUrl: string
}

function start(): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'functions/entry/local-server.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      DATA_DIR: dataDir,
      OPERATOR_KEY: '',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      AGGREGATION_INTERVAL_SECONDS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 45_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const url = /Admin engine on (http:\/\/localhost:\d+)/.exec(output)
      if (
        url &&
        /Operator key/.test(output) &&
        (/Demo admin key/.test(output) || /exist already/.test(output))
      ) {
        clearTimeout(timer)
        resolve({ child, output, log: () => output, baseUrl: url[1]! })
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)))
  })
}

async function stop(child: ChildProcess): Promise<void> {
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

describe('npm start', () => {
  it('serves the API over a persisted store with a demo organization and printed keys', async () => {
    const first = await start()
    const operatorKey = /Operator key: (op_\S+)/.exec(first.output)?.[1]
    const adminKey = /Demo admin key[^:]*: (adm_\S+)/.exec(first.output)?.[1]
    expect(operatorKey).toBeDefined()
    expect(adminKey).toBeDefined()

    const health = await fetch(`${first.baseUrl}/health`)
    expect(health.status).toBe(200)
    const org = await fetch(`${first.baseUrl}/v1/organization`, {
      headers: { authorization: `Bearer ${adminKey}` },
    })
    expect(org.status).toBe(200)
    const orgBody = (await org.json()) as { id: string; name: string }
    expect(orgBody.name).toBe('Demo organization')
    const created = await fetch(`${first.baseUrl}/v1/workspaces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Persisted' }),
    })
    expect(created.status).toBe(201)
    const requestId = created.headers.get('x-request-id')

    // One structured JSON line per request, with its request id; no secret in any log line.
    await new Promise((resolve) => setTimeout(resolve, 200))
    const logLines = first
      .log()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    const createLog = logLines.find((line) => line.request_id === requestId)
    expect(createLog).toMatchObject({
      level: 'INFO',
      method: 'POST',
      path: '/v1/workspaces',
      status: 201,
      actor: { type: 'admin_key' },
    })
    const logText = JSON.stringify(logLines)
    expect(logText).not.toContain(adminKey!)
    expect(logText).not.toContain(operatorKey!)
    expect(logText).not.toMatch(/adm_[A-Za-z0-9_-]{20,}|op_[A-Za-z0-9_-]{20,}/)
    await stop(first.child)

    // A restart keeps the data and the operator key, and does not create a second demo org.
    const second = await start()
    expect(second.output).toContain(operatorKey!)
    expect(second.output).not.toContain('Demo admin key')
    const list = await fetch(`${second.baseUrl}/v1/workspaces`, {
      headers: { authorization: `Bearer ${adminKey}` },
    })
    const names = ((await list.json()) as { data: { name: string }[] }).data.map((w) => w.name)
    expect(names).toEqual(['Default', 'Persisted'])
    const orgs = await fetch(`${second.baseUrl}/v1/organizations`, {
      headers: { authorization: `Bearer ${operatorKey}` },
    })
    expect(((await orgs.json()) as { data: unknown[] }).data).toHaveLength(1)
    await stop(second.child)
  }, 120_000)
})
