import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

/** `npm start` as a newcomer runs it: a real process, a persisted embedded store, printed keys. */
const dataDir = mkdtempSync(join(tmpdir(), 'admin-engine-start-'))
const children: ChildProcess[] = []
const dirs: string[] = [dataDir]

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'admin-engine-start-'))
  dirs.push(dir)
  return dir
}

interface Started {
  child: ChildProcess
  output: string
  /** Everything the process wrote so far (the banner, then JSON log lines). */
  log: () => string
  baseUrl: string
  storePid: number
}

function spawnServer(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'functions/entry/local-server.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      DATA_DIR: dataDir,
      OPERATOR_KEY: '',
      HOST: '',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      AGGREGATION_INTERVAL_SECONDS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  return child
}

function start(env: Record<string, string> = {}): Promise<Started> {
  const child = spawnServer(env)
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 45_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const url = /Admin engine on (http:\/\/[^\s]+:\d+) .*embedded store: \S+, pid (\d+)/.exec(
        output
      )
      if (
        url &&
        /Operator key/.test(output) &&
        (/Demo admin key/.test(output) || /exist already/.test(output))
      ) {
        clearTimeout(timer)
        resolve({ child, output, log: () => output, baseUrl: url[1]!, storePid: Number(url[2]) })
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)))
  })
}

/** A start that must fail: its exit code and everything it printed. */
function failedStart(
  env: Record<string, string>
): Promise<{ code: number | null; output: string }> {
  const child = spawnServer(env)
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`server did not exit:\n${output}`)), 45_000)
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (condition()) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return condition()
}

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return fetch(`http://${host}:${port}/health`).then(
    () => true,
    () => false
  )
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

    // Printed because it was generated now, and kept beside the data for restarts.
    expect(first.output).toMatch(/Operator key: op_\S+ +\(generated now, kept in .*operator-key\)/)
    expect(readFileSync(join(dataDir, 'operator-key'), 'utf8').trim()).toBe(operatorKey)

    // A restart keeps the data and the operator key (not printed again: it says where it is),
    // and does not create a second demo org.
    const second = await start()
    expect(second.output).not.toContain(operatorKey!)
    expect(second.output).toContain(`Operator key: kept in ${join(dataDir, 'operator-key')}`)
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
  it('does not print an operator key that came from OPERATOR_KEY, and listens on 127.0.0.1 only', async () => {
    const secret = 'op_fromTheEnvironment_0123456789'
    const started = await start({ DATA_DIR: freshDir(), OPERATOR_KEY: secret })
    expect(started.output).toContain('Operator key: from OPERATOR_KEY')
    expect(started.output).not.toContain(secret)
    const orgs = await fetch(`${started.baseUrl}/v1/organizations`, {
      headers: { authorization: `Bearer ${secret}` },
    })
    expect(orgs.status).toBe(200)

    // 127.0.0.2 is loopback too: a server on all interfaces would accept it, one on 127.0.0.1 not.
    const port = Number(new URL(started.baseUrl).port)
    expect(started.baseUrl).toBe(`http://127.0.0.1:${port}`)
    expect(await accepts('127.0.0.1', port)).toBe(true)
    expect(await accepts('127.0.0.2', port)).toBe(false)
    await stop(started.child)

    const everywhere = await start({ DATA_DIR: freshDir(), HOST: '0.0.0.0' })
    const openPort = Number(new URL(everywhere.baseUrl).port)
    expect(await accepts('127.0.0.2', openPort)).toBe(true)
    await stop(everywhere.child)
  }, 120_000)

  it('says the port is taken and exits non-zero before creating the demo organization', async () => {
    const dir = freshDir()
    const blocker: Server = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()))
    const port = (blocker.address() as { port: number }).port
    try {
      const failed = await failedStart({ DATA_DIR: dir, PORT: String(port) })
      expect(failed.code).toBe(1)
      expect(failed.output).toContain(`Port ${port} on 127.0.0.1 is already in use`)
      expect(failed.output).not.toContain('Demo admin key')
      expect(failed.output).not.toMatch(/op_[A-Za-z0-9_-]{20,}/)
      expect(failed.output).not.toMatch(/\n\s+at /) // a message, not a stack trace
    } finally {
      await new Promise((resolve) => blocker.close(resolve))
    }
    // Nothing was created: the next start on a free port makes (and shows) the demo organization
    // and the operator key, and the failed start left no lock behind.
    expect(existsSync(join(dir, 'server.lock'))).toBe(false)
    const next = await start({ DATA_DIR: dir })
    expect(next.output).toContain('Demo admin key')
    expect(next.output).toMatch(/Operator key: op_\S+ +\(generated now/)
    await stop(next.child)
  }, 120_000)

  it('refuses a second server on the same DATA_DIR and takes over the lock of a dead one', async () => {
    const dir = freshDir()
    const first = await start({ DATA_DIR: dir })
    expect(readFileSync(join(dir, 'server.lock'), 'utf8').trim()).toBe(String(first.child.pid))

    const second = await failedStart({ DATA_DIR: dir })
    expect(second.code).toBe(1)
    expect(second.output).toContain(`DATA_DIR ${dir} is in use by process ${first.child.pid}`)
    expect(second.output).not.toMatch(/\n\s+at /)
    // The first one is unharmed.
    expect((await fetch(`${first.baseUrl}/health`)).status).toBe(200)

    // Killed without a chance to clean up: its store process follows it (no orphan holding
    // LevelDB's LOCK), and the lock naming a dead pid is taken over by the next start.
    first.child.kill('SIGKILL')
    expect(await waitUntil(() => !processAlive(first.storePid), 10_000)).toBe(true)
    expect(readFileSync(join(dir, 'server.lock'), 'utf8').trim()).toBe(String(first.child.pid))
    const third = await start({ DATA_DIR: dir })
    expect(readFileSync(join(dir, 'server.lock'), 'utf8').trim()).toBe(String(third.child.pid))
    expect(third.output).toContain('exist already')

    // A clean stop ends the store process and removes the lock.
    await stop(third.child)
    expect(await waitUntil(() => !processAlive(third.storePid), 10_000)).toBe(true)
    expect(existsSync(join(dir, 'server.lock'))).toBe(false)
  }, 120_000)

  it('stops with a message when its store process dies', async () => {
    const dir = freshDir()
    const started = await start({ DATA_DIR: dir })
    const exited = new Promise<number | null>((resolve) =>
      started.child.once('exit', (code) => resolve(code))
    )
    process.kill(started.storePid, 'SIGKILL')
    expect(await exited).toBe(1)
    expect(started.log()).toContain(
      `The embedded store (pid ${started.storePid}) exited with SIGKILL`
    )
    expect(existsSync(join(dir, 'server.lock'))).toBe(false)
  }, 120_000)

  it('takes over a lock file whose process no longer exists', async () => {
    const dir = freshDir()
    const gone = spawn(process.execPath, ['-e', ''])
    await new Promise((resolve) => gone.once('exit', resolve))
    writeFileSync(join(dir, 'server.lock'), `${gone.pid}\n`)
    const started = await start({ DATA_DIR: dir })
    expect(readFileSync(join(dir, 'server.lock'), 'utf8').trim()).toBe(String(started.child.pid))
    await stop(started.child)
  }, 120_000)
})
