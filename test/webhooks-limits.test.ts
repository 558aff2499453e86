import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runWebhookDeliveries } from '../functions/webhooks/deliverer.js'
import { as, type Caller } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness, TestClock } from './helpers/harness.js'
import { createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js'

/** The receivers listen on http://127.0.0.1, which only a local server's policy allows. */
const LOCAL_URLS = { allowLocalHttp: true }

/**
 * The webhook events of the real-time limits (contract v1.1): `rate_limit.exhausted` once per
 * used-up window, and `budget.suspended` as soon as ingestion crosses a hard spend limit (before
 * any aggregation run), each verified by the receiver with standardwebhooks' Webhook.verify.
 */
let h: Harness
let receiver: WebhookReceiver
let org: Awaited<ReturnType<typeof createOrg>>
let api: Caller
let svc: string
let paths = 0

// Near real time: Webhook.verify checks webhook-timestamp against the receiver's own clock.
const clock = new TestClock(new Date())
const deliver = () =>
  runWebhookDeliveries({ db: h.db, clock: h.clock, random: () => 0.5, urlPolicy: LOCAL_URLS })

beforeAll(async () => {
  h = await startHarness({ clock, webhookLocalHttp: true })
  receiver = await startWebhookReceiver()
  svc = await createServiceKey(h)
  org = await createOrg(h)
  api = as(h, org.adminKey)
})
afterAll(async () => {
  await receiver.close()
  await h.close()
})

async function subscribe(eventTypes: string[]): Promise<string> {
  const path = `/limits-${++paths}`
  const res = await api.post('/v1/webhooks', { url: receiver.url(path), event_types: eventTypes })
  expect(res.status, res.text).toBe(201)
  receiver.expect(path, res.body.signing_secret)
  return path
}

async function workspaceWithKey(name: string) {
  const ws = (await api.create('/v1/workspaces', { name })).id as string
  const key = (await api.create('/v1/api-keys', { name: 'k', workspace_id: ws })).id as string
  return { ws, key }
}

async function authorize(ws: string, key: string) {
  const res = await h.call('POST', '/v1/authorize', {
    key: svc,
    body: {
      organization_id: org.id,
      principal: { type: 'ApiKey', id: key },
      action: 'invoke_model',
      resource: { type: 'Workspace', id: ws },
    },
  })
  expect(res.status, res.text).toBe(200)
  return res.body as { decision: string }
}

function verified(path: string) {
  const got = receiver.received(path)
  for (const request of got) expect(request.verifyError, request.body).toBeUndefined()
  // biome-ignore lint/suspicious/noExplicitAny: event bodies are read as JSON
  return got.map((request) => request.verified as Record<string, any>)
}

describe('limit events as webhooks', () => {
  it('rate_limit.exhausted: one event for the window, however many decisions it then denies', async () => {
    const path = await subscribe(['rate_limit.exhausted'])
    const { ws, key } = await workspaceWithKey('Limited')
    const put = await h.call('PUT', `/v1/workspaces/${ws}/rate-limits`, {
      key: org.adminKey,
      body: { limits: [{ model: '*', requests_per_minute: 3 }] },
    })
    expect(put.status, put.text).toBe(200)
    const decisions = []
    for (let i = 0; i < 6; i++) decisions.push((await authorize(ws, key)).decision)
    expect(decisions).toEqual(['allow', 'allow', 'allow', 'deny', 'deny', 'deny'])

    await deliver()
    const events = verified(path)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      type: 'rate_limit.exhausted',
      organization_id: org.id,
      data: { workspace_id: ws, limit_type: 'requests_per_minute', limit: 3, model: '*' },
    })
    // Delivered once: a second pass sends nothing more.
    await deliver()
    expect(receiver.received(path)).toHaveLength(1)
  })

  it('budget.suspended at ingestion, with no aggregation run, once per crossing', async () => {
    const path = await subscribe(['budget.suspended'])
    const { ws, key } = await workspaceWithKey('Spender')
    await api.create(`/v1/workspaces/${ws}/spend-limit`, { monthly_limit: '5.00' }, 'PUT')
    // 3.000000 each (1M input tokens of claude-sonnet-4 at the default price): the second crosses.
    const event = (id: string) =>
      usageEvent({
        id,
        organization_id: org.id,
        workspace_id: ws,
        api_key_id: key,
        timestamp: h.clock.now().toISOString(),
        model: 'claude-sonnet-4',
        input_tokens: 1_000_000,
      })
    expect((await sendEvents(h, svc, [event('evt-wh-1')])).accepted).toBe(1)
    await deliver()
    expect(receiver.received(path)).toHaveLength(0)

    expect((await sendEvents(h, svc, [event('evt-wh-2')])).accepted).toBe(1)
    expect((await sendEvents(h, svc, [event('evt-wh-3')])).accepted).toBe(1)
    await deliver()
    const events = verified(path)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      type: 'budget.suspended',
      organization_id: org.id,
      data: {
        scope: 'workspace',
        workspace_id: ws,
        spend: '6.000000',
        limit: '5.000000',
        enforcement: 'hard',
        source: 'live_spend',
      },
    })
    expect((await authorize(ws, key)).decision).toBe('deny')
  })
})
