/**
 * The artifacts that `cdk deploy` would upload actually work: `npm run synth` (the CDK CLI, real
 * esbuild bundling) writes the cloud assembly once; each Lambda asset is copied out of it into a
 * directory with no node_modules, loaded in a bare Node process with the environment from the
 * template, and invoked with API Gateway HTTP API (payload 2.0) events against the embedded
 * store. The operator secret comes from a local Secrets Manager endpoint through the function's
 * own SDK.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDocumentClient, ensureTable } from '../functions/store/client.js'
import { type EmbeddedStore, startEmbeddedStore } from '../functions/store/embedded.js'
import {
  type FakeSecretsManager,
  startFakeSecretsManager,
} from '../infra/local/fake-secrets-manager.js'
import { type HttpRequest, httpApiEvent } from '../infra/local/http-api-event.js'
import {
  copyToCleanDirectory,
  type LambdaAsset,
  type LocalLambda,
  removeDirectory,
  resolveEnvironment,
  type SynthesizedStack,
  startLocalLambda,
  synthesizeWithBundling,
} from '../infra/local/lambda-assets.js'

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:OperatorSecret-AbCdEf'
const TABLE_NAME = 'smoke-admin-engine'
// Like the stack's generated secret: 48 alphanumeric characters; the key is op_<value>.
const SECRET_VALUE = randomBytes(36)
  .toString('base64')
  .replace(/[^A-Za-z0-9]/g, '')
  .slice(0, 40)
const OPERATOR_KEY = `op_${SECRET_VALUE}`

/** The functions this file knows how to exercise, by construct path below the stack. */
const EXERCISED = ['Api/Function/Resource']

let outdir: string
let stack: SynthesizedStack
let store: EmbeddedStore
let secrets: FakeSecretsManager
const taskRoots: string[] = []

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'cdk-smoke-'))
  stack = synthesizeWithBundling(outdir, { stage: 'smoke' })
  store = await startEmbeddedStore()
  const doc = createDocumentClient({ endpoint: store.endpoint })
  await ensureTable(doc, TABLE_NAME)
  doc.destroy()
  secrets = await startFakeSecretsManager({ [SECRET_ARN]: SECRET_VALUE })
}, 120_000)

afterAll(async () => {
  await secrets?.close()
  await store?.close()
  for (const dir of [...taskRoots, outdir]) if (dir) removeDirectory(dir)
})

function functionAt(path: string): LambdaAsset {
  const asset = stack.functions.find((fn) => fn.path === `${stack.stackName}/${path}`)
  if (!asset) throw new Error(`no function at ${path}`)
  return asset
}

async function start(asset: LambdaAsset): Promise<LocalLambda> {
  const taskRoot = copyToCleanDirectory(asset)
  taskRoots.push(taskRoot)
  return startLocalLambda(asset, taskRoot, {
    ...resolveEnvironment(stack, asset, taskRoot, {
      'AWS::DynamoDB::GlobalTable': TABLE_NAME,
      'AWS::SecretsManager::Secret': SECRET_ARN,
    }),
    AWS_ENDPOINT_URL_DYNAMODB: store.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
  })
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

it('ships the bundle, its source map, the cedar wasm and the policies, and no node_modules', () => {
  for (const asset of stack.functions) {
    const files = filesIn(asset.assetDir)
    expect(files).toContain('index.mjs')
    expect(files).toContain('index.mjs.map')
    expect(files.filter((file) => file.endsWith('.wasm'))).toEqual(['cedar_wasm_bg.wasm'])
    expect(files).toContain('policies/schema.cedarschema')
    expect(files.some((file) => /^policies\/[^/]+\.cedar$/.test(file))).toBe(true)
    expect(files.filter((file) => file.includes('node_modules'))).toEqual([])
  }
})

describe('the API function, from its built asset', () => {
  let api: LocalLambda
  beforeAll(async () => {
    api = await start(functionAt('Api/Function/Resource'))
  }, 60_000)
  afterAll(() => api?.close())

  async function send(request: HttpRequest & { key?: string }) {
    const headers = { ...request.headers }
    if (request.key) headers.authorization = `Bearer ${request.key}`
    const { result } = await api.invoke<APIGatewayProxyStructuredResultV2>(
      httpApiEvent({ ...request, headers })
    )
    const body = result.body ? JSON.parse(result.body) : undefined
    return { status: result.statusCode, headers: result.headers ?? {}, body }
  }

  it('read the operator secret once, at cold start', async () => {
    expect(secrets.requests).toEqual([SECRET_ARN])
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
    expect(secrets.requests).toHaveLength(1)
  })
})
