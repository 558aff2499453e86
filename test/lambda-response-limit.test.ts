import { handle, type LambdaEvent } from 'hono/aws-lambda'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { limitResponseSize } from '../functions/entry/response-limit.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { httpApiEvent } from './helpers/lambda-local/http-api-event.js'
import { aggregate, createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'

/**
 * The Lambda handler's answer to a result over Lambda's 6 MB (functions/entry/response-limit.ts):
 * API Gateway would turn it into a bare 502, so it becomes a 400 in the contract's shape. Checked
 * through `hono/aws-lambda` and the app over the store, with the limit lowered to a CSV export
 * this test can afford to build.
 */

const HOUR = 3_600_000
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let query: string

beforeAll(async () => {
  h = await startHarness()
  const svc = await createServiceKey(h)
  org = await createOrg(h, 'Exports')
  const now = h.clock.now().getTime()
  // 48 hours × 3 models of usage: an hourly export grouped by model of 144 rows.
  const models = ['claude-sonnet-4', 'claude-haiku-4', 'claude-opus-4']
  const events = Array.from({ length: 48 * models.length }, (_, i) =>
    usageEvent({
      id: `export-${i}`,
      organization_id: org.id,
      workspace_id: org.defaultWorkspaceId,
      timestamp: new Date(now - (1 + Math.floor(i / models.length)) * HOUR).toISOString(),
      model: models[i % models.length]!,
      input_tokens: 1_000 + i,
    })
  )
  expect((await sendEvents(h, svc, events)).accepted).toBe(events.length)
  h.clock.advance(1_000)
  await aggregate(h)
  const start = new Date(Math.floor(now / HOUR) * HOUR - 49 * HOUR).toISOString()
  const end = new Date(Math.floor(now / HOUR) * HOUR + HOUR).toISOString()
  query = `starting_at=${start}&ending_at=${end}&bucket_width=1h&group_by=model&format=csv`
})
afterAll(() => h.close())

// The event API Gateway sends (aws-lambda's type; Hono types the same event its own way).
const exportEvent = () =>
  httpApiEvent({
    method: 'GET',
    path: `/v1/usage?${query}`,
    headers: { authorization: `Bearer ${org.adminKey}` },
  }) as unknown as LambdaEvent

describe('a Lambda result over the response limit', () => {
  it('passes a result under the limit unchanged', async () => {
    const result = await limitResponseSize(handle(h.app))(exportEvent())
    expect(result.statusCode).toBe(200)
    expect(result.headers?.['content-type']).toMatch(/^text\/csv/)
    const rows = result.body.trim().split('\r\n')
    expect(rows.length).toBe(1 + 48 * 3)
  })

  it('answers one over it with a 400 in the contract shape, saying how large it was', async () => {
    const whole = await handle(h.app)(exportEvent())
    const size = Buffer.byteLength(JSON.stringify(whole))
    const limit = Math.floor(size / 2)
    const result = await limitResponseSize(handle(h.app), limit)(exportEvent())
    expect(result.statusCode).toBe(400)
    expect(result.isBase64Encoded).toBe(false)
    expect(result.headers?.['content-type']).toBe('application/json')
    const body = JSON.parse(result.body)
    expect(body.error.type).toBe('invalid_request')
    expect(body.error.param).toBeNull()
    expect(body.error.message).toContain(`${(size / 1024 / 1024).toFixed(1)} MB`)
    expect(body.error.message).toContain('shorter time range')
    // The request keeps its id: the error names the one its header carries.
    expect(body.error.request_id).toEqual(expect.any(String))
    expect(result.headers?.['x-request-id']).toBe(body.error.request_id)
  })

  it('measures the serialized result: one just within the limit passes', async () => {
    const whole = await handle(h.app)(exportEvent())
    const size = Buffer.byteLength(JSON.stringify(whole))
    // The same export: only its x-request-id (same length) and as_of differ between calls.
    const result = await limitResponseSize(handle(h.app), size + 64)(exportEvent())
    expect(result.statusCode).toBe(200)
    expect(result.body).toBe(whole.body)
  })
})
