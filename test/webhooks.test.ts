import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createApp } from '../functions/app/app.js'
import { Db } from '../functions/store/db.js'
import {
  ATTEMPT_TIMEOUT_MS,
  createSendAttempt,
  runWebhookDeliveries,
} from '../functions/webhooks/deliverer.js'
import { emitWebhookEvent } from '../functions/webhooks/events.js'
import { as, type Caller, email, listAll } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness, TestClock } from './helpers/harness.js'
import { aggregate, createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js'

/** The receivers listen on http://127.0.0.1, which only a local server's policy allows. */
const LOCAL_URLS = { allowLocalHttp: true }

/**
 * Webhooks through HTTP (contract v1.1 "Webhooks"): endpoints managed by the Admin API, events
 * enqueued at their source, delivered by the deliverer (the same function the local timer and
 * the scheduled Lambda run) to a local receiver that verifies every signature with the
 * standardwebhooks library's own Webhook.verify.
 */
let h: Harness
let receiver: WebhookReceiver
let org: Awaited<ReturnType<typeof createOrg>>
let api: Caller
let serviceKey: string
let paths = 0
/** A custom policy that changes no decision: creating it is a `policy.changed` event. */
const NEVER = 'forbid (principal, action, resource) when { false };'

// Near real time: the receiver's Webhook.verify checks webhook-timestamp against its own clock
// (±5 min), and the deliverer signs with the server's (here: the test's) clock.
const clock = new TestClock(new Date())
/** Fixed jitter (the middle of ±20 %): retry delays are exactly 30 s, 60 s, 120 s, … */
const deliver = () =>
  runWebhookDeliveries({ db: h.db, clock: h.clock, random: () => 0.5, urlPolicy: LOCAL_URLS })

beforeAll(async () => {
  h = await startHarness({ clock, webhookLocalHttp: true })
  receiver = await startWebhookReceiver()
  serviceKey = await createServiceKey(h)
})
afterAll(async () => {
  await receiver.close()
  await h.close()
})
// Every test has its own organization and starts with nothing due from an earlier one.
beforeEach(async () => {
  clock.advance(25 * 60 * 60_000)
  await deliver()
  clock.set(new Date())
  org = await createOrg(h)
  api = as(h, org.adminKey)
})

/** A new endpoint at its own receiver path; returns it with its secret. */
async function endpoint(
  caller: Caller,
  eventTypes: string[],
  answer?: (n: number) => number
): Promise<{ id: string; path: string; secret: string; body: Record<string, unknown> }> {
  const path = `/hook-${++paths}`
  const res = await caller.post('/v1/webhooks', {
    url: receiver.url(path),
    event_types: eventTypes,
  })
  expect(res.status, res.text).toBe(201)
  receiver.expect(path, res.body.signing_secret)
  if (answer) receiver.respond(path, answer)
  return { id: res.body.id, path, secret: res.body.signing_secret, body: res.body }
}

/**
 * Every event a path got, each verified by Webhook.verify, in the order they were emitted
 * (ids are ULIDs; attempts run concurrently, so arrival order is not emission order).
 */
function verifiedAt(path: string) {
  const got = receiver.received(path)
  for (const request of got) expect(request.verifyError, request.body).toBeUndefined()
  return got
    .map((request) => request.verified as Record<string, unknown>)
    .sort((a, b) => (String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : 0))
}

describe('endpoints', () => {
  it('are created with a whsec_ secret shown once: never in GET, list, PATCH, deliveries or the audit log', async () => {
    const created = await endpoint(api, ['policy.changed'])
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(created.body).toMatchObject({
      object: 'webhook_endpoint',
      organization_id: org.id,
      url: receiver.url(created.path),
      event_types: ['policy.changed'],
      description: null,
      version: 1,
    })
    expect(created.body.id).toMatch(/^whk_[0-9A-Z]{26}$/)

    const got = await api.get(`/v1/webhooks/${created.id}`)
    const listed = await api.get('/v1/webhooks?limit=100')
    const patched = await api.patch(`/v1/webhooks/${created.id}`, {
      description: 'Policy watcher',
      event_types: ['policy.changed', 'api_key.revoked', 'policy.changed'],
    })
    const tested = await api.post(`/v1/webhooks/${created.id}/test`)
    const deliveries = await api.get(`/v1/webhooks/${created.id}/deliveries`)
    const audit = await api.get(`/v1/audit-events?target_id=${created.id}`)
    expect(got.status).toBe(200)
    expect(got.headers.get('etag')).toBe('"1"')
    expect(patched.status).toBe(200)
    expect(patched.body).toMatchObject({
      description: 'Policy watcher',
      event_types: ['policy.changed', 'api_key.revoked'],
      version: 2,
    })
    expect(tested.status).toBe(202)
    expect(listed.body.data.map((e: { id: string }) => e.id)).toContain(created.id)
    expect(audit.body.data.map((e: { event_type: string }) => e.event_type)).toEqual([
      'webhook.updated',
      'webhook.created',
    ])
    for (const res of [got, listed, patched, tested, deliveries, audit]) {
      expect(res.status, res.text).toBeLessThan(300)
      expect(res.text).not.toContain(created.secret)
      expect(res.text).not.toContain(created.secret.slice('whsec_'.length))
      expect(res.text).not.toContain('signing_secret')
    }
  })

  it('refuse bad input with the contract error and write nothing', async () => {
    const before = await listAll(api, '/v1/webhooks')
    const strict = createApp({ db: h.db, clock: h.clock, operatorKey: h.operatorKey })
    const cases: [unknown, string | null][] = [
      [{ url: 'ftp://example.com/x', event_types: ['policy.changed'] }, 'url'],
      [{ url: 'not a url', event_types: ['policy.changed'] }, 'url'],
      [{ url: 'https://user:pw@example.com/', event_types: ['policy.changed'] }, 'url'],
      [{ url: 'http://example.com/hook', event_types: ['policy.changed'] }, 'url'],
      [{ url: 'https://example.com/hook', event_types: [] }, 'event_types'],
      [{ url: 'https://example.com/hook', event_types: ['budget.exploded'] }, 'event_types.0'],
      // An unknown field (e.g. trying to choose the secret) is refused, naming it.
      [{ url: 'https://example.com/hook', event_types: ['policy.changed'], secret: 'x' }, null],
    ]
    for (const [body, param] of cases) {
      const res = await api.post('/v1/webhooks', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.error).toMatchObject({ type: 'invalid_request', param })
      expect(res.body.error.request_id).toBeTruthy()
      if (param === null) expect(res.body.error.message).toContain('secret')
    }
    // On AWS (the default): https only, and not to this machine or a private network.
    for (const url of [
      'http://127.0.0.1:9/hook',
      'https://localhost/hook',
      'https://127.0.0.1/hook',
      'https://10.1.2.3/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/hook',
      'https://[fd00::1]/hook',
    ]) {
      const res = await strict.request('/v1/webhooks', {
        method: 'POST',
        headers: { authorization: `Bearer ${org.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url, event_types: ['policy.changed'] }),
      })
      expect(res.status, url).toBe(400)
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe('url')
    }
    const created = await endpoint(api, ['policy.changed'])
    const patch = await api.patch(`/v1/webhooks/${created.id}`, { url: 'http://example.com/' })
    expect(patch.status).toBe(400)
    expect((await api.get(`/v1/webhooks/${created.id}`)).body.url).toBe(receiver.url(created.path))
    const stale = await api.patch(
      `/v1/webhooks/${created.id}`,
      { description: 'x' },
      { 'if-match': '"7"' }
    )
    expect(stale.status).toBe(412)
    expect(await listAll(api, '/v1/webhooks')).toHaveLength(before.length + 1)
  })

  it('are deleted (with If-Match), and a deleted endpoint gets none of its pending deliveries', async () => {
    const doomed = await endpoint(api, ['policy.changed'])
    await api.create('/v1/policies/doomed-a', { cedar: NEVER }, 'PUT')
    const stale = await api.delete(`/v1/webhooks/${doomed.id}`, { 'if-match': '"2"' })
    expect(stale.status).toBe(412)
    const deleted = await api.delete(`/v1/webhooks/${doomed.id}`, { 'if-match': '"1"' })
    expect(deleted.status).toBe(200)
    expect(deleted.body).toEqual({
      object: 'webhook_endpoint.deleted',
      id: doomed.id,
      deleted: true,
    })
    expect((await api.get(`/v1/webhooks/${doomed.id}`)).status).toBe(404)
    await deliver()
    expect(receiver.received(doomed.path)).toEqual([])
  })
})

describe('deliveries', () => {
  it('sends each subscribed event once, signed (Webhook.verify), with the contract body and headers', async () => {
    const hook = await endpoint(api, ['policy.changed', 'api_key.revoked', 'member.deactivated'])
    const quiet = await endpoint(api, ['budget.resumed'])
    const policy = await api.create(
      '/v1/policies/no-opus',
      { cedar: 'forbid (principal, action == Action::"use_chat", resource) when { false };' },
      'PUT'
    )
    const key = await api.create('/v1/api-keys', {
      name: 'k',
      workspace_id: org.defaultWorkspaceId,
    })
    expect((await api.delete(`/v1/api-keys/${key.id}`)).status).toBe(200)
    const member = await api.create('/v1/members', { email: email(), name: 'Leaver' })
    const patched = await api.patch(`/v1/members/${member.id}`, { status: 'deactivated' })
    expect(patched.status).toBe(200)
    // A change that is not a deactivation sends nothing.
    await api.patch(`/v1/members/${member.id}`, { name: 'Left' })

    const summary = await deliver()
    expect(summary).toMatchObject({ attempts: 3, succeeded: 3, retrying: 0, failed: 0 })
    const events = verifiedAt(hook.path)
    expect(events.map((event) => event.type)).toEqual([
      'policy.changed',
      'api_key.revoked',
      'member.deactivated',
    ])
    for (const request of receiver.received(hook.path)) {
      const event = request.verified as Record<string, unknown>
      expect(Object.keys(event).sort()).toEqual([
        'created_at',
        'data',
        'id',
        'organization_id',
        'type',
      ])
      expect(event.organization_id).toBe(org.id)
      expect(event.id).toMatch(/^msg_[0-9A-Z]{26}$/)
      expect(request.headers['webhook-id']).toBe(event.id)
      expect(request.headers['content-type']).toBe('application/json')
      expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/)
      expect(Number(request.headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -2)
    }
    expect(events[0]!.data).toMatchObject({ change: 'created', policy_id: 'no-opus' })
    expect((events[0]!.data as { after: { cedar: string } }).after.cedar).toBe(policy.cedar)
    expect(events[1]!.data).toMatchObject({ api_key: { id: key.id, status: 'revoked' } })
    expect(events[2]!.data).toMatchObject({ member: { id: member.id, status: 'deactivated' } })
    expect(receiver.received(quiet.path)).toEqual([])

    // A tampered body or another endpoint's secret does not verify: the check above can fail.
    const [first] = receiver.received(hook.path)
    const { Webhook } = await import('standardwebhooks')
    const headers = first!.headers as Record<string, string>
    expect(() => new Webhook(hook.secret).verify(`${first!.body} `, headers)).toThrow()
    expect(() => new Webhook(quiet.secret).verify(first!.body, headers)).toThrow()

    const listed = await api.get(`/v1/webhooks/${hook.id}/deliveries`)
    expect(listed.body.data.map((d: { event_type: string }) => d.event_type)).toEqual([
      'member.deactivated',
      'api_key.revoked',
      'policy.changed',
    ])
    for (const delivery of listed.body.data) {
      expect(delivery).toMatchObject({ object: 'webhook_delivery', status: 'succeeded' })
      expect(delivery.attempts).toEqual([
        expect.objectContaining({ attempt: 1, status_code: 204, error: null }),
      ])
      expect(delivery.next_attempt_at).toBeNull()
    }
    // Cursor-paginated: one per page gives the same list.
    const paged = await listAll<{ id: string }>(api, `/v1/webhooks/${hook.id}/deliveries`, 1)
    expect(paged.map((d) => d.id)).toEqual(listed.body.data.map((d: { id: string }) => d.id))
    // Nothing more is sent.
    clock.advance(60 * 60_000)
    expect((await deliver()).attempts).toBe(0)
    expect(receiver.received(hook.path)).toHaveLength(3)
  })

  it('retries a receiver that fails twice with backoff, then it gets the event exactly once more', async () => {
    const flaky = await endpoint(api, ['policy.changed'], (n) => (n <= 2 ? 500 : 200))
    await api.create('/v1/policies/flaky-a', { cedar: NEVER }, 'PUT')
    const created = clock.now().getTime()

    expect(await deliver()).toMatchObject({ attempts: 1, retrying: 1 })
    // Not due yet: the first retry waits 30 s.
    clock.advance(29_000)
    expect((await deliver()).attempts).toBe(0)
    clock.advance(1_000)
    expect(await deliver()).toMatchObject({ attempts: 1, retrying: 1 })
    clock.advance(59_000)
    expect((await deliver()).attempts).toBe(0)
    clock.advance(1_000)
    expect(await deliver()).toMatchObject({ attempts: 1, succeeded: 1 })
    clock.advance(24 * 60 * 60_000)
    expect((await deliver()).attempts).toBe(0)

    const requests = receiver.received(flaky.path)
    expect(requests.map((r) => r.status)).toEqual([500, 500, 200])
    const ids = new Set(verifiedAt(flaky.path).map((event) => event.id))
    expect(ids.size).toBe(1)
    expect([...ids][0]).toBe(requests[0]!.headers['webhook-id'])
    // Each attempt is signed anew (its own timestamp).
    expect(new Set(requests.map((r) => r.headers['webhook-timestamp'])).size).toBe(3)

    const [delivery] = (await api.get(`/v1/webhooks/${flaky.id}/deliveries`)).body.data
    expect(delivery.status).toBe('succeeded')
    expect(delivery.attempts.map((a: { status_code: number }) => a.status_code)).toEqual([
      500, 500, 200,
    ])
    expect(delivery.attempts.map((a: { error: string | null }) => a.error)).toEqual([
      'HTTP 500',
      'HTTP 500',
      null,
    ])
    expect(
      delivery.attempts.map((a: { attempted_at: string }) => Date.parse(a.attempted_at) - created)
    ).toEqual([0, 30_000, 90_000])
  })

  it('gives up 24 h after the event, with exponentially growing waits, each attempt recorded', async () => {
    const down = await endpoint(api, ['policy.changed'], () => 503)
    await api.create('/v1/policies/down-a', { cedar: NEVER }, 'PUT')
    const created = clock.now().getTime()
    for (let run = 0; run < 40; run++) {
      await deliver()
      const [delivery] = (await api.get(`/v1/webhooks/${down.id}/deliveries`)).body.data
      if (delivery.status !== 'pending') break
      clock.set(delivery.next_attempt_at)
    }
    const [delivery] = (await api.get(`/v1/webhooks/${down.id}/deliveries`)).body.data
    expect(delivery.status).toBe('failed')
    expect(delivery.next_attempt_at).toBeNull()
    const times = delivery.attempts.map((a: { attempted_at: string }) => Date.parse(a.attempted_at))
    const waits = times.slice(1).map((t: number, i: number) => t - times[i])
    expect(waits.slice(0, 9)).toEqual(
      [30, 60, 120, 240, 480, 960, 1920, 3840, 7680].map((s) => s * 1000)
    )
    expect(Math.max(...waits)).toBe(4 * 60 * 60_000)
    expect(times.at(-1) - created).toBeLessThanOrEqual(24 * 60 * 60_000)
    expect(times.at(-1) - created + 4 * 60 * 60_000).toBeGreaterThan(24 * 60 * 60_000)
    expect(delivery.attempts).toHaveLength(receiver.received(down.path).length)
    expect(delivery.attempts.every((a: { status_code: number }) => a.status_code === 503)).toBe(
      true
    )
  })

  it('records an attempt that got no response (connection refused) with status_code null', async () => {
    const closed = await startWebhookReceiver()
    const url = closed.url('/gone')
    await closed.close()
    const res = await api.post('/v1/webhooks', { url, event_types: ['policy.changed'] })
    expect(res.status).toBe(201)
    await api.create('/v1/policies/gone-a', { cedar: NEVER }, 'PUT')
    expect(await deliver()).toMatchObject({ retrying: 1 })
    const [delivery] = (await api.get(`/v1/webhooks/${res.body.id}/deliveries`)).body.data
    expect(delivery.status).toBe('pending')
    expect(delivery.attempts[0]).toMatchObject({ attempt: 1, status_code: null })
    expect(delivery.attempts[0].error).toMatch(/ECONNREFUSED|fetch failed/)
    await api.delete(`/v1/webhooks/${res.body.id}`)
  })

  it('records an attempt that got no answer in time as a failed attempt without status, and retries it', async () => {
    // Accepts the connection and never answers.
    const silent = createServer(() => undefined)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as AddressInfo
    try {
      const res = await api.post('/v1/webhooks', {
        url: `http://127.0.0.1:${port}/silent`,
        event_types: ['policy.changed'],
      })
      expect(res.status).toBe(201)
      await api.create('/v1/policies/silent-a', { cedar: NEVER }, 'PUT')
      const seen: number[] = []
      // The real sender, with the timeout it is given shortened so the test does not wait 10 s.
      const summary = await runWebhookDeliveries({
        db: h.db,
        clock,
        random: () => 0.5,
        send: (request) => {
          seen.push(request.timeoutMs)
          return createSendAttempt({ allowLocalHttp: true })({ ...request, timeoutMs: 300 })
        },
      })
      expect(seen).toEqual([ATTEMPT_TIMEOUT_MS])
      expect(summary).toMatchObject({ attempts: 1, retrying: 1 })
      const [delivery] = (await api.get(`/v1/webhooks/${res.body.id}/deliveries`)).body.data
      expect(delivery.status).toBe('pending')
      expect(delivery.attempts[0]).toMatchObject({
        status_code: null,
        error: 'no response within 10 s',
      })
      expect(delivery.attempts[0].duration_ms).toBeGreaterThanOrEqual(250)
      await api.delete(`/v1/webhooks/${res.body.id}`)
    } finally {
      silent.closeAllConnections()
      await new Promise<void>((resolve) => silent.close(() => resolve()))
    }
  })

  it('two deliverers running at once never send the same attempt twice', async () => {
    const hook = await endpoint(api, ['policy.changed'])
    for (let i = 0; i < 12; i++) {
      await api.create(`/v1/policies/race-${i}`, { cedar: NEVER }, 'PUT')
    }
    // Two processes: each its own table client over the same table.
    const other = new Db(h.db.doc, h.db.tableName)
    const [a, b] = await Promise.all([
      deliver(),
      runWebhookDeliveries({ db: other, clock, random: () => 0.5, urlPolicy: LOCAL_URLS }),
    ])
    expect(a.succeeded + b.succeeded).toBe(12)
    const ids = verifiedAt(hook.path).map((event) => event.id)
    expect(ids).toHaveLength(12)
    expect(new Set(ids).size).toBe(12)
  })

  it('POST /test queues a webhook.test event for that endpoint only', async () => {
    const hook = await endpoint(api, ['budget.suspended'])
    const other = await endpoint(api, ['budget.suspended'])
    const queued = await api.post(`/v1/webhooks/${hook.id}/test`)
    expect(queued.status).toBe(202)
    expect(queued.body).toMatchObject({
      object: 'webhook_delivery',
      endpoint_id: hook.id,
      event_type: 'webhook.test',
      status: 'pending',
      attempts: [],
    })
    await deliver()
    const [event] = verifiedAt(hook.path)
    expect(event).toMatchObject({
      id: queued.body.id,
      type: 'webhook.test',
      organization_id: org.id,
    })
    expect(receiver.received(other.path)).toEqual([])
  })

  it('a budget threshold crossed once is delivered once per subscribed endpoint', async () => {
    const budgetOrg = await createOrg(h, 'Budgeted')
    const budgetApi = as(h, budgetOrg.adminKey)
    const ws = (await budgetApi.create('/v1/workspaces', { name: 'Metered' })).id as string
    const [one, two] = [
      await endpoint(budgetApi, ['budget.threshold_crossed']),
      await endpoint(budgetApi, ['budget.threshold_crossed', 'budget.suspended']),
    ]
    const unsubscribed = await endpoint(budgetApi, ['budget.suspended'])
    const limit = await budgetApi.put(`/v1/workspaces/${ws}/spend-limit`, {
      monthly_limit: '4',
      enforcement: 'hard',
    })
    expect(limit.status, limit.text).toBe(200)
    // $2 of $4: 50 % (claude-haiku-4 input costs $1 per million tokens).
    const spend = (id: string) =>
      usageEvent({
        id,
        organization_id: budgetOrg.id,
        workspace_id: ws,
        timestamp: clock.now().toISOString(),
        model: 'claude-haiku-4',
        input_tokens: 1_000_000,
        output_tokens: 0,
      })
    await sendEvents(h, serviceKey, [spend('b-1'), spend('b-2')])
    await aggregate(h)
    // Evaluated again with nothing new: the crossing is not repeated.
    await aggregate(h)
    await deliver()
    await aggregate(h)
    await deliver()

    for (const hook of [one, two]) {
      const events = verifiedAt(hook.path)
      expect(events.map((event) => event.type)).toEqual(['budget.threshold_crossed'])
      expect(events[0]!.data).toMatchObject({
        workspace_id: ws,
        threshold_percent: 50,
        spend: '2.000000',
        limit: '4.000000',
        suspended: false,
      })
    }
    // The same event (one id) went to both endpoints.
    expect(verifiedAt(one.path)[0]!.id).toBe(verifiedAt(two.path)[0]!.id)
    expect(receiver.received(unsubscribed.path)).toEqual([])

    // Over the hard limit: the workspace suspended at ingestion (live spend, before any run),
    // then 80 % and 100 % crossed at the run; each once (the run does not announce it again).
    await sendEvents(h, serviceKey, [spend('b-3'), spend('b-4'), spend('b-5')])
    await aggregate(h)
    await aggregate(h)
    await deliver()
    expect(
      verifiedAt(two.path).map((event) => [
        event.type,
        (event.data as { threshold_percent?: number }).threshold_percent,
      ])
    ).toEqual([
      ['budget.threshold_crossed', 50],
      ['budget.suspended', undefined],
      ['budget.threshold_crossed', 80],
      ['budget.threshold_crossed', 100],
    ])
    expect(verifiedAt(two.path)[1]!.data).toMatchObject({ workspace_id: ws, source: 'live_spend' })
    expect(verifiedAt(unsubscribed.path).map((event) => event.type)).toEqual(['budget.suspended'])
  })

  it('emitWebhookEvent (for the rate-limit code) enqueues once per fixed id', async () => {
    const hook = await endpoint(api, ['rate_limit.exhausted'])
    const data = { workspace_id: org.defaultWorkspaceId, limit_type: 'requests_per_minute' }
    const first = await emitWebhookEvent(h, org.id, { type: 'rate_limit.exhausted', data })
    await emitWebhookEvent(h, org.id, { type: 'rate_limit.exhausted', data, id: first.id })
    await deliver()
    expect(verifiedAt(hook.path)).toEqual([first])
  })
})

describe('tenant isolation', () => {
  it("another organization's admin sees none of the endpoints and gets 404 for each route", async () => {
    const mine = await endpoint(api, ['policy.changed'])
    const other = await createOrg(h, 'Other')
    const theirs = as(h, other.adminKey)
    const foreign = await endpoint(theirs, ['policy.changed'])
    expect((await listAll<{ id: string }>(theirs, '/v1/webhooks')).map((e) => e.id)).toEqual([
      foreign.id,
    ])
    for (const [method, path, body] of [
      ['GET', `/v1/webhooks/${mine.id}`],
      ['PATCH', `/v1/webhooks/${mine.id}`, { description: 'taken' }],
      ['DELETE', `/v1/webhooks/${mine.id}`],
      ['GET', `/v1/webhooks/${mine.id}/deliveries`],
      ['POST', `/v1/webhooks/${mine.id}/test`],
    ] as const) {
      const res = await theirs.send(method, path, body)
      expect(res.status, `${method} ${path}`).toBe(404)
      expect(res.body.error).toMatchObject({ type: 'not_found', param: 'id' })
    }
    expect((await api.get(`/v1/webhooks/${mine.id}`)).body.description).toBeNull()
    // Events of one organization reach only its own endpoints.
    await theirs.create('/v1/policies/theirs-a', { cedar: NEVER }, 'PUT')
    await deliver()
    expect(verifiedAt(foreign.path).map((event) => event.organization_id)).toEqual([other.id])
    expect(receiver.received(mine.path)).toEqual([])
  })
})

describe('Idempotency-Key', () => {
  it('replays a create and a test event instead of doing them twice', async () => {
    const body = { url: 'https://hooks.example.com/once', event_types: ['policy.changed'] }
    const headers = { 'idempotency-key': `create-${paths}` }
    const first = await api.post('/v1/webhooks', body, headers)
    const again = await api.post('/v1/webhooks', body, headers)
    expect(first.status).toBe(201)
    expect(again.status).toBe(201)
    expect(again.body.id).toBe(first.body.id)
    expect(await listAll(api, '/v1/webhooks')).toHaveLength(1)

    const testHeaders = { 'idempotency-key': `test-${paths}` }
    const queued = await api.post(`/v1/webhooks/${first.body.id}/test`, undefined, testHeaders)
    const replayed = await api.post(`/v1/webhooks/${first.body.id}/test`, undefined, testHeaders)
    expect(queued.status).toBe(202)
    expect(replayed.body.id).toBe(queued.body.id)
    expect(await listAll(api, `/v1/webhooks/${first.body.id}/deliveries`)).toHaveLength(1)
  })
})
