import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { createApp } from '../../functions/app/app.js'
import type { DecisionService } from '../../functions/authz/decisions.js'
import type { Clock } from '../../functions/lib/clock.js'
import { generateSecret } from '../../functions/lib/secrets.js'
import { createDocumentClient, ensureTable } from '../../functions/store/client.js'
import { Db } from '../../functions/store/db.js'
import { startEmbeddedStore } from '../../functions/store/embedded.js'
import { ResponseMismatch, ResponseValidator } from './response-validation.js'

/** A clock tests can move. */
export class TestClock implements Clock {
  constructor(private current = new Date('2026-11-27T10:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current)
  }
  set(date: Date | string): void {
    this.current = new Date(date)
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms)
  }
}

export interface Harness {
  app: ReturnType<typeof createApp>
  db: Db
  clock: TestClock
  operatorKey: string
  close(): Promise<void>
  /** Sends a request with a bearer secret and an optional JSON body. */
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>
}

export interface CallOptions {
  key?: string | undefined
  body?: unknown
  headers?: Record<string, string>
}

export interface ApiResponse {
  status: number
  headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
  body: any
  text: string
}

/** An in-memory dynalite, its table, and the app over it: one per test file. */
export async function startHarness(
  options: {
    clock?: TestClock
    /** Builds the Db the app uses (e.g. a FaultyDb that fails chosen writes). */
    makeDb?: (doc: DynamoDBDocumentClient, tableName: string) => Db
    /** The app's decision service (e.g. with another revision check interval). */
    decisions?: (db: Db) => DecisionService
    /** Accept http://localhost webhook URLs, as `npm start` does (e.g. for a local receiver). */
    webhookLocalHttp?: boolean
    /** Where the built browser console is (scripts/build-console.ts). */
    consoleDir?: string
    /** Check every response against the served OpenAPI document (default true). */
    validateResponses?: boolean
  } = {}
): Promise<Harness> {
  const store = await startEmbeddedStore()
  const doc = createDocumentClient({ endpoint: store.endpoint })
  const tableName = `test-${Math.random().toString(36).slice(2, 10)}`
  await ensureTable(doc, tableName)
  const db = options.makeDb ? options.makeDb(doc, tableName) : new Db(doc, tableName)
  const clock = options.clock ?? new TestClock()
  const operatorKey = generateSecret('operator')
  const app = createApp({
    db,
    clock,
    operatorKey,
    decisions: options.decisions?.(db),
    webhookUrls: { allowLocalHttp: options.webhookLocalHttp ?? false },
    consoleDir: options.consoleDir,
  })
  if (options.validateResponses !== false) checkResponses(app)
  const call = async (
    method: string,
    path: string,
    opts: CallOptions = {}
  ): Promise<ApiResponse> => {
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.key) headers.authorization = `Bearer ${opts.key}`
    let body: string | undefined
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body)
      headers['content-type'] ??= 'application/json'
    }
    const response = await app.request(path, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {
      // not JSON (CSV, HTML)
    }
    return { status: response.status, headers: response.headers, body: parsed, text }
  }
  return {
    app,
    db,
    clock,
    operatorKey,
    call,
    close: async () => {
      doc.destroy()
      await store.close()
    },
  }
}

/** Creates an organization through the operator route; returns its ids and admin secret. */
export async function createOrg(h: Harness, name = 'Acme') {
  const res = await h.call('POST', '/v1/organizations', { key: h.operatorKey, body: { name } })
  if (res.status !== 201) throw new Error(`create org failed: ${res.status} ${res.text}`)
  return {
    id: res.body.organization.id as string,
    defaultWorkspaceId: res.body.default_workspace.id as string,
    adminKey: res.body.admin_key.secret as string,
    adminKeyId: res.body.admin_key.id as string,
  }
}

let validator: Promise<ResponseValidator> | undefined

/**
 * Makes `app.request` — and so `h.call` and every test that calls the app directly — fail on a
 * response that the served OpenAPI document does not describe (test/helpers/response-validation.ts).
 * The document is the same for every app, so it is read and compiled once per test file.
 */
export function checkResponses(
  app: ReturnType<typeof createApp>,
  against?: ResponseValidator
): void {
  const request = app.request.bind(app)
  validator ??= Promise.resolve(request('/openapi.json')).then(
    async (res) => new ResponseValidator((await res.json()) as Record<string, unknown>)
  )
  const checked = against ? Promise.resolve(against) : validator
  app.request = (async (...args: Parameters<typeof request>) => {
    const response = await request(...args)
    const [input, init] = args
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET')
    const url = input instanceof Request ? input.url : String(input)
    const validate = await checked
    if (!validate.covers(url)) return response
    const text = await response.clone().text()
    const problems = validate.check(method, url, response.status, response.headers, text)
    if (problems.length > 0) throw new ResponseMismatch(problems.join('\n'))
    return response
  }) as typeof app.request
}
