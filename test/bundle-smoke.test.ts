/**
 * The artifacts that `cdk deploy` would upload actually work: `npm run synth` (the CDK CLI, real
 * esbuild bundling) writes the cloud assembly once; each Lambda asset is copied out of it into a
 * directory with no node_modules, loaded in a bare Node process with the environment from the
 * template, and invoked against the embedded store — the API function with API Gateway HTTP API
 * (payload 2.0) events, the aggregation function with the event its schedule sends, the webhook
 * deliverer with its rule's event (delivering to a local receiver that verifies signatures). The operator
 * secret comes from a local Secrets Manager endpoint and budget alerts go to a local EventBridge
 * endpoint, through the functions' own SDK.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AggregationSummary, Budget, BudgetAlert } from '../functions/model/index.js'
import { createDocumentClient, ensureTable } from '../functions/store/client.js'
import { type EmbeddedStore, startEmbeddedStore } from '../functions/store/embedded.js'
import {
  type FakeEventBridge,
  startFakeEventBridge,
} from './helpers/lambda-local/fake-eventbridge.js'
import {
  type FakeSecretsManager,
  startFakeSecretsManager,
} from './helpers/lambda-local/fake-secrets-manager.js'
import { type HttpRequest, httpApiEvent } from './helpers/lambda-local/http-api-event.js'
import {
  copyToCleanDirectory,
  type LambdaAsset,
  type LocalLambda,
  removeDirectory,
  resolveEnvironment,
  type SynthesizedStack,
  startLocalLambda,
  synthesizeWithBundling,
} from './helpers/lambda-local/lambda-assets.js'
import { scheduledEvent } from './helpers/lambda-local/scheduled-event.js'
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js'

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:OperatorSecret-AbCdEf'
const TABLE_NAME = 'smoke-admin-engine'
const BUS_NAME = 'AdminEngine-smoke-AlertBus'
// Like the stack's generated secret: 48 alphanumeric characters; the key is op_<value>.
const SECRET_VALUE = randomBytes(36)
  .toString('base64')
  .replace(/[^A-Za-z0-9]/g, '')
  .slice(0, 40)
const OPERATOR_KEY = `op_${SECRET_VALUE}`

/** The functions this file knows how to exercise, by construct path below the stack. */
const API_PATH = 'Api/Function/Resource'
const AGGREGATION_PATH = 'Aggregation/Function/Resource'
const DELIVERER_PATH = 'WebhookDeliverer/Function/Resource'
const EXERCISED = [API_PATH, AGGREGATION_PATH, DELIVERER_PATH]

let outdir: string
let stack: SynthesizedStack
let store: EmbeddedStore
let secrets: FakeSecretsManager
let bus: FakeEventBridge
let api: LocalLambda
const taskRoots: string[] = []

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'cdk-smoke-'))
  stack = synthesizeWithBundling(outdir, { stage: 'smoke' })
  store = await startEmbeddedStore()
  const doc = createDocumentClient({ endpoint: store.endpoint })
  await ensureTable(doc, TABLE_NAME)
  doc.destroy()
  secrets = await startFakeSecretsManager({ [SECRET_ARN]: SECRET_VALUE })
  bus = await startFakeEventBridge()
  api = await start(functionAt(API_PATH))
}, 120_000)

afterAll(async () => {
  api?.close()
  await bus?.close()
  await secrets?.close()
  await store?.close()
  for (const dir of [...taskRoots, outdir]) if (dir) removeDirectory(dir)
})

function functionAt(path: string): LambdaAsset {
  const asset = stack.functions.find((fn) => fn.path === `${stack.stackName}/${path}`)
  if (!asset) throw new Error(`no function at ${path}`)
  return asset
}

async function start(
  asset: LambdaAsset,
  endpoints: { dynamodb?: string } = {},
  /** Variables the stack does not set (e.g. a local-only switch). */
  extra: Record<string, string> = {}
): Promise<LocalLambda> {
  const taskRoot = copyToCleanDirectory(asset)
  taskRoots.push(taskRoot)
  return startLocalLambda(asset, taskRoot, {
    ...resolveEnvironment(stack, asset, taskRoot, {
      'AWS::DynamoDB::GlobalTable': TABLE_NAME,
      'AWS::SecretsManager::Secret': SECRET_ARN,
      'AWS::Events::EventBus': BUS_NAME,
    }),
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb ?? store.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
    ...extra,
  })
}

/** Calls the API function's built asset (by default the one started first) with an HTTP API event. */
async function send(request: HttpRequest & { key?: string }, via: LocalLambda = api) {
  const headers = { ...request.headers }
  if (request.key) headers.authorization = `Bearer ${request.key}`
  const { result } = await via.invoke<APIGatewayProxyStructuredResultV2>(
    httpApiEvent({ ...request, headers })
  )
  const body = result.body ? JSON.parse(result.body) : undefined
  return { status: result.statusCode, headers: result.headers ?? {}, body }
}

function filesIn(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? filesIn(join(dir, entry.name), `${prefix}${entry.name}/`)
      : [`${prefix}${entry.name}`]
  )
}

it('exercises every function the stack deploys', () => {
  const deployed = stack.functions.map((fn) => fn.path.slice(stack.stackName.length + 1))
  // A new function (e.g. the scheduled aggregation job) needs its own fixtures here.
  expect(
    deployed.filter((path) => !EXERCISED.includes(path)),
    'functions deployed without a smoke test here'
  ).toEqual([])
  expect(deployed).toEqual(expect.arrayContaining(EXERCISED))
})

it('ships the bundle, its source map, the wasm and policies exactly when it loads them, no node_modules', () => {
  const loadsCedar = (asset: LambdaAsset) =>
    readFileSync(join(asset.assetDir, asset.handlerFile), 'utf8').includes('cedar_wasm_bg.wasm')
  expect(loadsCedar(functionAt(API_PATH))).toBe(true)
  expect(loadsCedar(functionAt(AGGREGATION_PATH))).toBe(false)
  // zod is bundled without its locales (infra/bundling.ts): no German messages, for one.
  const apiAsset = functionAt(API_PATH)
  const apiBundle = readFileSync(join(apiAsset.assetDir, apiAsset.handlerFile), 'utf8')
  expect(apiBundle).not.toContain('Zeichen')
  for (const asset of stack.functions) {
    const files = filesIn(asset.assetDir)
    expect(files).toContain('index.mjs')
    expect(files).toContain('index.mjs.map')
    expect(files.filter((file) => file.includes('node_modules'))).toEqual([])
    // Only the API function serves /docs: Swagger UI's files (and licence) beside its bundle.
    expect(files.filter((file) => file.startsWith('swagger-ui/')).sort(), asset.path).toEqual(
      asset === functionAt(API_PATH)
        ? [
            'swagger-ui/LICENSE',
            'swagger-ui/NOTICE',
            'swagger-ui/swagger-ui-bundle.js',
            'swagger-ui/swagger-ui.css',
          ]
        : []
    )
    if (loadsCedar(asset)) {
      expect(files.filter((file) => file.endsWith('.wasm'))).toEqual(['cedar_wasm_bg.wasm'])
      // The engine evaluates cedar-wasm's glue itself (to rebuild it after a trap).
      expect(files).toContain('cedar_wasm.js')
      expect(files).toContain('policies/schema.cedarschema')
      expect(files.some((file) => /^policies\/[^/]+\.cedar$/.test(file))).toBe(true)
      // Compiled at build time (infra/compile-policies.ts), so a cold start does not parse them.
      expect(files).toContain('policies/builtins.compiled.json')
    } else {
      expect(files.sort(), asset.path).toEqual(['index.mjs', 'index.mjs.map'])
    }
  }
})

describe('the API function, from its built asset', () => {
  it('read the operator secret once, at cold start', async () => {
    expect(secrets.requests).toEqual([SECRET_ARN])
  })

  it('serves /docs and the swagger-ui-dist files it loads from the bundle, not a CDN', async () => {
    const page = await api.invoke<APIGatewayProxyStructuredResultV2>(
      httpApiEvent({ method: 'GET', path: '/docs' })
    )
    expect(page.result.statusCode).toBe(200)
    expect(page.result.headers?.['content-security-policy']).toContain("default-src 'none'")
    expect(page.result.body).toContain('docs/assets/swagger-ui-bundle.js')
    for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
      const { result } = await api.invoke<APIGatewayProxyStructuredResultV2>(
        httpApiEvent({ method: 'GET', path: `/docs/assets/${file}` })
      )
      expect(result.statusCode, file).toBe(200)
      const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8')
      const installed = readFileSync(
        createRequire(import.meta.url).resolve(`swagger-ui-dist/${file}`)
      )
      expect(body.equals(installed), file).toBe(true)
    }
  })

  it('serves the browser console from the files built beside the bundle', async () => {
    expect(filesIn(functionAt(API_PATH).assetDir)).toContain('console/index.html')
    const get = async (path: string) =>
      (await api.invoke<APIGatewayProxyStructuredResultV2>(httpApiEvent({ method: 'GET', path })))
        .result
    const page = await get('/console')
    expect(page.statusCode).toBe(200)
    expect(page.headers?.['content-security-policy']).toContain("script-src 'self'")
    const script = /\/console\/assets\/app-\w+\.js/.exec(page.body ?? '')?.[0]
    expect(script).toBeDefined()
    const asset = await get(script!)
    expect(asset.statusCode).toBe(200)
    expect(asset.headers?.['content-type']).toMatch(/javascript/)
  })

  it('answers health after reaching its table', async () => {
    const res = await send({ method: 'GET', path: '/health' })
    expect(res.status).toBe(200)
    expect(res.body.status).toBe('ok')
  })

  it('refuses a call without credentials, and a wrong operator key', async () => {
    const none = await send({ method: 'GET', path: '/v1/workspaces' })
    expect(none.status).toBe(401)
    expect(none.body.error.type).toBe('authentication')
    const wrong = await send({
      method: 'POST',
      path: '/v1/organizations',
      key: `op_${'x'.repeat(40)}`,
      json: { name: 'Nope' },
    })
    expect(wrong.status).toBe(401)
  })

  it('serves authorized Admin calls and refuses one the Cedar policies deny', async () => {
    const org = await send({
      method: 'POST',
      path: '/v1/organizations',
      key: OPERATOR_KEY,
      json: { name: 'Smoke Inc' },
    })
    expect(org.status).toBe(201)
    const adminKey = org.body.admin_key.secret as string

    const workspaces = await send({ method: 'GET', path: '/v1/workspaces?limit=10', key: adminKey })
    expect(workspaces.status).toBe(200)
    expect(workspaces.body.data.map((ws: { id: string }) => ws.id)).toEqual([
      org.body.default_workspace.id,
    ])

    const billing = await send({
      method: 'POST',
      path: '/v1/admin-keys',
      key: adminKey,
      json: { name: 'finance', org_roles: ['billing_manager'] },
    })
    expect(billing.status).toBe(201)

    const refused = await send({
      method: 'POST',
      path: '/v1/workspaces',
      key: billing.body.secret,
      json: { name: 'Not allowed' },
    })
    expect(refused.status).toBe(403)
    expect(refused.body.error.type).toBe('permission')

    const created = await send({
      method: 'POST',
      path: '/v1/workspaces',
      key: adminKey,
      json: { name: 'Research' },
    })
    expect(created.status).toBe(201)
    expect(created.body.name).toBe('Research')

    // The bundle carries zod without its other locales (infra/bundling.ts): still English.
    const invalid = await send({
      method: 'POST',
      path: '/v1/workspaces',
      key: adminKey,
      json: { name: 42 },
    })
    expect(invalid.status).toBe(400)
    expect(invalid.body.error).toMatchObject({
      type: 'invalid_request',
      param: 'name',
      message: "Invalid 'name': Invalid input: expected string, received number",
    })
    expect(secrets.requests).toHaveLength(1)
  })

  it('decides product requests with the Cedar policies, for a service key', async () => {
    const org = await send({
      method: 'POST',
      path: '/v1/organizations',
      key: OPERATOR_KEY,
      json: { name: 'Decisions Inc' },
    })
    const adminKey = org.body.admin_key.secret as string
    const organizationId = org.body.organization.id as string
    const workspaceId = org.body.default_workspace.id as string
    const service = await send({
      method: 'POST',
      path: '/v1/service-keys',
      key: OPERATOR_KEY,
      json: { name: 'studio' },
    })
    const member = await send({
      method: 'POST',
      path: '/v1/members',
      key: adminKey,
      json: {
        email: 'dev@decisions.example',
        name: 'Dev',
        workspaces: [{ workspace_id: workspaceId, roles: ['dev'] }],
      },
    })
    expect(member.status).toBe(201)
    const decide = async (action: string) => {
      const res = await send({
        method: 'POST',
        path: '/v1/authorize',
        key: service.body.secret,
        json: {
          organization_id: organizationId,
          principal: { type: 'Member', id: member.body.id },
          action,
          resource: { type: 'Workspace', id: workspaceId },
        },
      })
      expect(res.status).toBe(200)
      return res.body as { decision: string; determining_policies: { policy_id: string }[] }
    }
    const studio = await decide('use_studio')
    expect(studio.decision).toBe('allow')
    expect(studio.determining_policies.map((p) => p.policy_id)).toContain('ws-dev')
    const code = await decide('use_code')
    expect(code.decision).toBe('deny')
    expect(code.determining_policies.map((p) => p.policy_id)).toContain('forbid-no-code-seat')

    // Rate limits in the built asset: 2 requests per minute, so a third is denied by them (a
    // minute that turns between the calls allows 2 more: at most 4 are allowed before a deny).
    const limits = await send({
      method: 'PUT',
      path: `/v1/workspaces/${workspaceId}/rate-limits`,
      key: adminKey,
      json: { limits: [{ model: '*', requests_per_minute: 2 }] },
    })
    expect(limits.status).toBe(200)
    const decisions: Awaited<ReturnType<typeof decide>>[] = []
    while (decisions.length < 6 && decisions.at(-1)?.decision !== 'deny') {
      decisions.push(await decide('use_studio'))
    }
    const denied = decisions.at(-1)!
    expect(decisions.length).toBeGreaterThanOrEqual(3)
    expect(decisions.length).toBeLessThanOrEqual(5)
    expect(denied.decision).toBe('deny')
    expect(denied.determining_policies.map((p) => p.policy_id)).toEqual(['forbid-rate-limit'])
    expect(denied).toMatchObject({ rate_limit: { limit_type: 'requests_per_minute', limit: 2 } })
    const cleared = await send({
      method: 'PUT',
      path: `/v1/workspaces/${workspaceId}/rate-limits`,
      key: adminKey,
      json: { limits: [] },
    })
    expect(cleared.status).toBe(200)

    const deactivated = await send({
      method: 'PATCH',
      path: `/v1/members/${member.body.id}`,
      key: adminKey,
      json: { status: 'deactivated' },
    })
    expect(deactivated.status).toBe(200)
    const after = await decide('use_studio')
    expect(after.decision).toBe('deny')
    expect(after.determining_policies.map((p) => p.policy_id)).toEqual([
      'forbid-deactivated-member',
    ])
  })
})

describe('the aggregation function, from its built asset', () => {
  let job: LocalLambda
  let adminKey: string
  let serviceKey: string
  let organizationId: string
  let workspaceId: string
  let eventCount = 0
  beforeAll(async () => {
    job = await start(functionAt(AGGREGATION_PATH))
    // The state a deployment would have, made through the API function's built asset.
    const org = await send({
      method: 'POST',
      path: '/v1/organizations',
      key: OPERATOR_KEY,
      json: { name: 'Metered Inc' },
    })
    expect(org.status).toBe(201)
    adminKey = org.body.admin_key.secret
    organizationId = org.body.organization.id
    workspaceId = org.body.default_workspace.id
    const service = await send({
      method: 'POST',
      path: '/v1/service-keys',
      key: OPERATOR_KEY,
      json: { name: 'chat' },
    })
    expect(service.status).toBe(201)
    serviceKey = service.body.secret
  }, 60_000)
  afterAll(() => job?.close())

  /** Events of $0.01 each: claude-haiku-4 input costs $1 per million tokens. */
  const events = (workspace: string, count: number) =>
    Array.from({ length: count }, () => ({
      id: `smoke-${++eventCount}`,
      organization_id: organizationId,
      workspace_id: workspace,
      timestamp: new Date().toISOString(),
      product: 'chat',
      model: 'claude-haiku-4',
      input_tokens: 10_000,
      output_tokens: 0,
    }))

  async function ingest(batch: unknown[]) {
    const res = await send({
      method: 'POST',
      path: '/v1/usage/events',
      key: serviceKey,
      json: { events: batch },
    })
    expect(res.status).toBe(200)
    return res.body as { accepted: number; duplicates: number; rejected: unknown[] }
  }

  async function setLimit(path: string, monthlyLimit: string) {
    const res = await send({
      method: 'PUT',
      path,
      key: adminKey,
      json: { monthly_limit: monthlyLimit, enforcement: 'hard' },
    })
    expect(res.status).toBe(200)
  }

  async function budgets(): Promise<Budget[]> {
    const res = await send({ method: 'GET', path: '/v1/budgets', key: adminKey })
    expect(res.status).toBe(200)
    return res.body.data
  }

  const scheduledRun = (attempt = 1) =>
    job.invoke<AggregationSummary>(scheduledEvent(stack, functionAt(AGGREGATION_PATH), { attempt }))
  const published = (entries = bus.accepted) =>
    entries.map((entry) => ({ ...entry, alert: JSON.parse(entry.Detail!) as BudgetAlert }))
  const thresholds = (alerts: BudgetAlert[]) => alerts.map((alert) => alert.threshold_percent)

  it('aggregates usage, suspends the workspace over its hard limit and publishes the alerts', async () => {
    const first = events(workspaceId, 3)
    expect(await ingest(first)).toMatchObject({ accepted: 3, duplicates: 0, rejected: [] })
    // A retried batch: the event already seen is reported, and never counted twice.
    expect(await ingest([first[0]])).toMatchObject({ accepted: 0, duplicates: 1 })
    await setLimit(`/v1/workspaces/${workspaceId}/spend-limit`, '0.02')

    const fixture = scheduledEvent(stack, functionAt(AGGREGATION_PATH))
    const { result: summary } = await job.invoke<AggregationSummary>(fixture)
    expect(summary).toMatchObject({
      object: 'aggregation_run',
      status: 'completed',
      events_aggregated: 3,
      duplicates_dropped: 0,
    })
    expect(summary.alerts.every((alert) => alert.workspace_id === workspaceId)).toBe(true)
    expect(thresholds(summary.alerts)).toEqual([50, 80, 100])
    expect(summary.alerts.find((alert) => alert.threshold_percent === 100)).toMatchObject({
      spend: '0.030000',
      limit: '0.020000',
      enforcement: 'hard',
      suspended: true,
    })
    // The run's log line names the scheduler's execution, which a dead-letter message carries.
    expect(job.output()).toContain(String(fixture.execution_id))

    const [organization, workspace] = await budgets()
    expect(organization).toMatchObject({ scope: 'organization', spend: '0.030000', state: 'ok' })
    expect(workspace).toMatchObject({
      scope: 'workspace',
      workspace_id: workspaceId,
      spend: '0.030000',
      limit: '0.020000',
      percent_used: 150,
      state: 'exceeded',
      suspended: true,
    })

    expect(published()).toEqual(
      summary.alerts.map((alert) =>
        expect.objectContaining({
          EventBusName: BUS_NAME,
          Source: 'admin-engine.budgets',
          DetailType: 'Budget threshold crossed',
          alert,
        })
      )
    )
  })

  it('denies invoke_model in the suspended workspace, naming the budget guardrail', async () => {
    const key = await send({
      method: 'POST',
      path: '/v1/api-keys',
      key: adminKey,
      json: { name: 'metered app', workspace_id: workspaceId },
    })
    expect(key.status).toBe(201)
    const decision = await send({
      method: 'POST',
      path: '/v1/authorize',
      key: serviceKey,
      json: {
        organization_id: organizationId,
        principal: { type: 'ApiKey', id: key.body.id },
        action: 'invoke_model',
        resource: { type: 'Workspace', id: workspaceId },
      },
    })
    expect(decision.status).toBe(200)
    expect(decision.body.decision).toBe('deny')
    expect(
      decision.body.determining_policies.map((p: { policy_id: string }) => p.policy_id)
    ).toEqual(['forbid-workspace-budget-exhausted'])
  })

  it('fires nothing again on a run with nothing new', async () => {
    const before = bus.accepted.length
    const { result } = await scheduledRun()
    expect(result).toMatchObject({ status: 'completed', events_aggregated: 0, alerts: [] })
    expect(bus.accepted).toHaveLength(before)
  })

  it('fails a run whose alert the bus refuses, and publishes that alert on the next run', async () => {
    await setLimit('/v1/spend-limit', '0.05') // 0.03 spent: 60 % crosses the 50 % threshold
    const before = bus.accepted.length
    bus.refuseNext(1)
    await expect(scheduledRun()).rejects.toThrow(/EventBridge rejected alert/)
    expect(published(bus.refused).map((entry) => entry.alert.threshold_percent)).toEqual([50])

    const { result } = await scheduledRun(2)
    expect(result.status).toBe('completed')
    expect(result.alerts.map((alert) => [alert.workspace_id, alert.threshold_percent])).toEqual([
      [null, 50],
    ])
    const delivered = published(bus.accepted.slice(before))
    expect(delivered.map((entry) => entry.alert.id)).toEqual([published(bus.refused)[0]!.alert.id])
  })

  it('runs the same job on demand in the API function, which publishes to the bus too', async () => {
    const created = await send({
      method: 'POST',
      path: '/v1/workspaces',
      key: adminKey,
      json: { name: 'Batch' },
    })
    expect(created.status).toBe(201)
    const batchWorkspace = created.body.id as string
    await setLimit(`/v1/workspaces/${batchWorkspace}/spend-limit`, '0.01')
    expect(await ingest(events(batchWorkspace, 1))).toMatchObject({ accepted: 1 })
    const before = bus.accepted.length

    const run = await send({ method: 'POST', path: '/v1/jobs/aggregate', key: OPERATOR_KEY })
    expect(run.status).toBe(200)
    expect(run.body).toMatchObject({ status: 'completed', events_aggregated: 1 })
    // The workspace reaches 100 % of its limit; the organization 80 % (0.04 of 0.05).
    const fired = run.body.alerts.map((alert: BudgetAlert) => [
      alert.workspace_id,
      alert.threshold_percent,
    ])
    expect(fired).toHaveLength(4)
    expect(fired).toEqual(
      expect.arrayContaining([
        [null, 80],
        [batchWorkspace, 50],
        [batchWorkspace, 80],
        [batchWorkspace, 100],
      ])
    )
    expect(published(bus.accepted.slice(before)).map((entry) => entry.alert)).toEqual(
      run.body.alerts
    )
    const states = await budgets()
    expect(states.find((budget) => budget.workspace_id === batchWorkspace)).toMatchObject({
      state: 'exceeded',
      suspended: true,
    })
  })

  it('throws when a run fails, so Lambda retries it and then dead-letters it', async () => {
    // A table endpoint nobody listens on: every DynamoDB call of the run is refused.
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const { port } = closed.address() as { port: number }
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const unreachable = await start(functionAt(AGGREGATION_PATH), {
      dynamodb: `http://127.0.0.1:${port}`,
    })
    try {
      await expect(
        unreachable.invoke(scheduledEvent(stack, functionAt(AGGREGATION_PATH)))
      ).rejects.toThrow(/handler threw: .*ECONNREFUSED/)
    } finally {
      unreachable.close()
    }
  })
})

describe('the webhook deliverer, from its built asset', () => {
  let deliverer: LocalLambda
  /** The API and deliverer assets as a local run would start them: http://127.0.0.1 endpoints accepted. */
  let localApi: LocalLambda
  let receiver: WebhookReceiver
  beforeAll(async () => {
    receiver = await startWebhookReceiver()
    deliverer = await start(functionAt(DELIVERER_PATH), {}, { WEBHOOK_ALLOW_LOCAL_HTTP: 'true' })
    localApi = await start(functionAt(API_PATH), {}, { WEBHOOK_ALLOW_LOCAL_HTTP: 'true' })
  }, 60_000)
  afterAll(async () => {
    deliverer?.close()
    localApi?.close()
    await receiver?.close()
  })

  /** What the every-minute EventBridge rule sends the function. */
  const ruleEvent = () => ({
    version: '0',
    id: randomBytes(16).toString('hex'),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:123456789012:rule/WebhookDeliverer'],
    detail: {},
  })

  it('as deployed, the API accepts https endpoints only', async () => {
    const org = await send({
      method: 'POST',
      path: '/v1/organizations',
      key: OPERATOR_KEY,
      json: { name: 'Strict Hooks Inc' },
    })
    const refused = await send({
      method: 'POST',
      path: '/v1/webhooks',
      key: org.body.admin_key.secret,
      json: { url: receiver.url('/strict'), event_types: ['policy.changed'] },
    })
    expect(refused.status).toBe(400)
    expect(refused.body.error).toMatchObject({ type: 'invalid_request', param: 'url' })
  })

  it('delivers events queued by the API, signed so that Webhook.verify accepts them, and records the attempts', async () => {
    const org = await send(
      { method: 'POST', path: '/v1/organizations', key: OPERATOR_KEY, json: { name: 'Hooks Inc' } },
      localApi
    )
    expect(org.status).toBe(201)
    const adminKey = org.body.admin_key.secret as string
    const created = await send(
      {
        method: 'POST',
        path: '/v1/webhooks',
        key: adminKey,
        json: { url: receiver.url('/smoke'), event_types: ['policy.changed'] },
      },
      localApi
    )
    expect(created.status).toBe(201)
    receiver.expect('/smoke', created.body.signing_secret)
    const policy = await send(
      {
        method: 'PUT',
        path: '/v1/policies/smoke-never',
        key: adminKey,
        json: { cedar: 'forbid (principal, action, resource) when { false };' },
      },
      localApi
    )
    expect(policy.status).toBe(201)
    const test = await send(
      { method: 'POST', path: `/v1/webhooks/${created.body.id}/test`, key: adminKey },
      localApi
    )
    expect(test.status).toBe(202)

    const { result } = await deliverer.invoke<{ attempts: number; succeeded: number }>(ruleEvent())
    expect(result).toMatchObject({ attempts: 2, succeeded: 2 })
    const got = receiver.received('/smoke')
    expect(got.map((request) => request.verifyError)).toEqual([undefined, undefined])
    expect(got.map((request) => (request.verified as { type: string }).type).sort()).toEqual([
      'policy.changed',
      'webhook.test',
    ])

    const deliveries = await send(
      { method: 'GET', path: `/v1/webhooks/${created.body.id}/deliveries`, key: adminKey },
      localApi
    )
    expect(deliveries.status).toBe(200)
    expect(
      deliveries.body.data.map((d: { status: string; attempts: { status_code: number }[] }) => [
        d.status,
        d.attempts.map((a) => a.status_code),
      ])
    ).toEqual([
      ['succeeded', [204]],
      ['succeeded', [204]],
    ])
    // A second run finds nothing due.
    const again = await deliverer.invoke<{ attempts: number }>(ruleEvent())
    expect(again.result.attempts).toBe(0)
    expect(receiver.received('/smoke')).toHaveLength(2)
  })
})
