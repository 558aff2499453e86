import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js'

/**
 * Webhooks on `npm start`: the local server's own timer delivers (no test calls the deliverer),
 * to a receiver on this machine (http://127.0.0.1 is accepted locally by default), signed so that
 * the standardwebhooks library's Webhook.verify accepts every request.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'admin-engine-hooks-'))
let child: ChildProcess
let output = ''
let baseUrl: string
let adminKey: string
let receiver: WebhookReceiver

beforeAll(async () => {
  receiver = await startWebhookReceiver()
  child = spawn(process.execPath, ['--import', 'tsx', 'functions/entry/local-server.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      DATA_DIR: dataDir,
      OPERATOR_KEY: '',
      HOST: '',
      AGGREGATION_INTERVAL_SECONDS: '0',
      WEBHOOK_DELIVERY_INTERVAL_SECONDS: '1',
      WEBHOOK_ALLOW_LOCAL_HTTP: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 45_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const url = /Admin engine on (http:\/\/[^\s]+:\d+) /.exec(output)
      const key = /Demo admin key \(organization_admin, shown once\): (\S+)/.exec(output)
      if (url && key && /Webhook deliveries every/.test(output)) {
        clearTimeout(timer)
        baseUrl = url[1]!
        adminKey = key[1]!
        resolve()
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)))
  })
}, 60_000)

afterAll(async () => {
  if (child && child.exitCode === null) {
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  }
  await receiver?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${adminKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
  return { status: res.status, body: (await res.json()) as Record<string, any> }
}

it('says it delivers, then delivers a policy change to a local receiver within seconds, signed', async () => {
  expect(output).toContain('Webhook deliveries every 1 s')
  const created = await call('POST', '/v1/webhooks', {
    url: receiver.url('/local'),
    event_types: ['policy.changed'],
  })
  expect(created.status).toBe(201)
  receiver.expect('/local', created.body.signing_secret)
  const policy = await call('PUT', '/v1/policies/local-never', {
    cedar: 'forbid (principal, action, resource) when { false };',
  })
  expect(policy.status).toBe(201)

  const deadline = Date.now() + 15_000
  while (receiver.received('/local').length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const [request] = receiver.received('/local')
  expect(request?.verifyError).toBeUndefined()
  expect(request?.verified).toMatchObject({
    type: 'policy.changed',
    data: { change: 'created', policy_id: 'local-never' },
  })
  const deliveries = await call('GET', `/v1/webhooks/${created.body.id}/deliveries`)
  expect(deliveries.body.data[0]).toMatchObject({
    status: 'succeeded',
    attempts: [expect.objectContaining({ status_code: 204 })],
  })
})
