import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../functions/app/app.js'
import { Db } from '../functions/store/db.js'
import {
  onRateLimitExhausted,
  type RateLimitExhausted,
} from '../functions/usage/rate-limit-events.js'
import { as, type Caller } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'

/**
 * Rate limits through HTTP (contract v1.1 "Rate limits"): the Admin API, and enforcement in
 * /v1/authorize with many app instances over one store.
 */
let h: Harness
let api: Caller
let org: Awaited<ReturnType<typeof createOrg>>
let svc: string
/** Four app instances over the harness's table, each with its own table client and caches. */
let instances: ReturnType<typeof createApp>[]
const exhausted: RateLimitExhausted[] = []

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  api = as(h, org.adminKey)
  svc = await createServiceKey(h)
  instances = Array.from({ length: 4 }, () =>
    createApp({
      db: new Db(h.db.doc, h.db.tableName),
      clock: h.clock,
      operatorKey: h.operatorKey,
    })
  )
})
const unsubscribe = onRateLimitExhausted(async (_db, event) => void exhausted.push(event))
afterAll(async () => {
  unsubscribe()
  await h.close()
})

async function workspaceWithKey(name: string) {
  const ws = (await api.create('/v1/workspaces', { name })).id as string
  const key = (await api.create('/v1/api-keys', { name: 'k', workspace_id: ws })).id as string
  return { ws, key }
}

function authorizeBody(ws: string, key: string, action: string, context?: object) {
  return JSON.stringify({
    organization_id: org.id,
    principal: { type: 'ApiKey', id: key },
    action,
    resource: { type: 'Workspace', id: ws },
    ...(context ? { context } : {}),
  })
}

/** One decision through instance `i` (round robin by the caller). */
// biome-ignore lint/suspicious/noExplicitAny: decision bodies are read as JSON
async function decideOn(i: number, body: string): Promise<any> {
  const res = await instances[i % instances.length]!.request('/v1/authorize', {
    method: 'POST',
    headers: { authorization: `Bearer ${svc}`, 'content-type': 'application/json' },
    body,
  })
  expect(res.status).toBe(200)
  return res.json()
}

async function parallel(count: number, body: (i: number) => string) {
  return Promise.all(Array.from({ length: count }, (_, i) => decideOn(i, body(i))))
}

async function putWorkspaceLimits(ws: string, limits: unknown[]) {
  const res = await h.call('PUT', `/v1/workspaces/${ws}/rate-limits`, {
    key: org.adminKey,
    body: { limits },
  })
  expect(res.status, res.text).toBe(200)
  return res
}

describe('enforcement across 4 app instances over one store', () => {
  it('200 parallel decisions against requests_per_minute = 50: 50 allowed, the rest denied by forbid-rate-limit', async () => {
    h.clock.set('2026-11-27T10:00:05.000Z')
    const { ws, key } = await workspaceWithKey('RPM')
    await putWorkspaceLimits(ws, [{ model: '*', requests_per_minute: 50 }])
    const results = await parallel(200, () => authorizeBody(ws, key, 'invoke_model'))
    const allowed = results.filter((r) => r.decision === 'allow').length
    expect(allowed).toBeGreaterThanOrEqual(50)
    expect(allowed).toBeLessThanOrEqual(51)
    const denied = results.find((r) => r.decision === 'deny')
    expect(denied.determining_policies.map((p: { policy_id: string }) => p.policy_id)).toEqual([
      'forbid-rate-limit',
    ])
    expect(denied.rate_limit).toEqual({
      limit_type: 'requests_per_minute',
      limit: 50,
      remaining: 0,
      resets_at: '2026-11-27T10:01:00.000Z',
      retry_after_ms: 55_000,
      scope: 'workspace',
      model: '*',
    })
    // The decision that used the window up announced it, once: an audit entry and the listeners.
    expect(exhausted.filter((e) => e.workspace_id === ws)).toEqual([
      {
        organization_id: org.id,
        workspace_id: ws,
        model: '*',
        limit_type: 'requests_per_minute',
        limit: 50,
        window_start: '2026-11-27T10:00:00.000Z',
        resets_at: '2026-11-27T10:01:00.000Z',
      },
    ])
    const audit = await h.call(
      'GET',
      `/v1/audit-events?event_type=rate_limit.exhausted&target_id=${ws}`,
      { key: org.adminKey }
    )
    expect(audit.body.data).toHaveLength(1)
    expect(audit.body.data[0]).toMatchObject({
      actor: { type: 'system', id: 'rate-limiter' },
      after: { limit_type: 'requests_per_minute', limit: 50 },
    })
  })

  it('the window resets: the next minute admits 50 again', async () => {
    h.clock.set('2026-11-27T11:00:00.000Z')
    const { ws, key } = await workspaceWithKey('Reset')
    await putWorkspaceLimits(ws, [{ model: '*', requests_per_minute: 50 }])
    const first = await parallel(80, () => authorizeBody(ws, key, 'invoke_model'))
    expect(first.filter((r) => r.decision === 'allow')).toHaveLength(50)
    h.clock.advance(59_999)
    expect((await decideOn(0, authorizeBody(ws, key, 'invoke_model'))).decision).toBe('deny')
    h.clock.advance(1)
    const second = await parallel(80, () => authorizeBody(ws, key, 'invoke_model'))
    expect(second.filter((r) => r.decision === 'allow')).toHaveLength(50)
  })

  it('200 parallel decisions of 100 estimated tokens against tokens_per_minute = 5000: 50 allowed', async () => {
    h.clock.set('2026-11-27T12:00:00.000Z')
    const { ws, key } = await workspaceWithKey('TPM')
    await putWorkspaceLimits(ws, [{ model: 'claude-sonnet-4', tokens_per_minute: 5000 }])
    const body = () =>
      authorizeBody(ws, key, 'invoke_model', { model: 'claude-sonnet-4', estimated_tokens: 100 })
    const results = await parallel(200, body)
    const allowed = results.filter((r) => r.decision === 'allow').length
    expect(allowed).toBeGreaterThanOrEqual(50)
    expect(allowed).toBeLessThanOrEqual(51)
    expect(results.find((r) => r.decision === 'deny').rate_limit.limit_type).toBe(
      'tokens_per_minute'
    )
    // Another model is not counted against that model's entry.
    const other = await decideOn(
      1,
      authorizeBody(ws, key, 'invoke_model', { model: 'other', estimated_tokens: 100 })
    )
    expect(other.decision).toBe('allow')
  })

  it('decisions of other actions are never counted, and do not count', async () => {
    h.clock.set('2026-11-27T13:00:00.000Z')
    const { ws, key } = await workspaceWithKey('Other actions')
    await putWorkspaceLimits(ws, [{ model: '*', requests_per_minute: 3 }])
    // manage_api_keys is not something an API key may do (deny), read_usage neither: both are
    // decided by Cedar and never reach the limiter.
    const others = await parallel(20, (i) =>
      authorizeBody(ws, key, i % 2 ? 'manage_api_keys' : 'read_usage')
    )
    expect(others.every((r) => r.rate_limit === undefined)).toBe(true)
    const consumption = await parallel(5, () => authorizeBody(ws, key, 'invoke_model'))
    expect(consumption.filter((r) => r.decision === 'allow')).toHaveLength(3)
  })

  it("the organization's default counts all its workspaces together", async () => {
    h.clock.set('2026-11-27T14:00:00.000Z')
    // A workspace above allows 50: the organization may not go below it.
    const below = await h.call('PUT', '/v1/rate-limits', {
      key: org.adminKey,
      body: { limits: [{ model: '*', requests_per_minute: 10 }] },
    })
    expect(below.status).toBe(400)
    expect(below.body.error.param).toBe('limits.0.requests_per_minute')
    const res = await h.call('PUT', '/v1/rate-limits', {
      key: org.adminKey,
      body: { limits: [{ model: '*', requests_per_minute: 100 }] },
    })
    expect(res.status, res.text).toBe(200)
    const a = await workspaceWithKey('Org A')
    const b = await workspaceWithKey('Org B')
    const results = await parallel(150, (i) =>
      i % 2
        ? authorizeBody(a.ws, a.key, 'invoke_model')
        : authorizeBody(b.ws, b.key, 'invoke_model')
    )
    expect(results.filter((r) => r.decision === 'allow')).toHaveLength(100)
    expect(results.find((r) => r.decision === 'deny').rate_limit.scope).toBe('organization')
    await h.call('PUT', '/v1/rate-limits', { key: org.adminKey, body: { limits: [] } })
  })

  it('ingested usage corrects estimates that were too low', async () => {
    h.clock.set('2026-11-27T15:00:00.000Z')
    const { ws, key } = await workspaceWithKey('Corrected')
    await putWorkspaceLimits(ws, [{ model: '*', tokens_per_minute: 1000 }])
    const ask = () => decideOn(0, authorizeBody(ws, key, 'invoke_model', { estimated_tokens: 10 }))
    expect((await ask()).decision).toBe('allow')
    const ingested = await sendEvents(h, svc, [
      usageEvent({
        id: 'evt-rl-correct',
        organization_id: org.id,
        workspace_id: ws,
        api_key_id: key,
        timestamp: h.clock.now().toISOString(),
        input_tokens: 600,
        output_tokens: 400,
      }),
    ])
    expect(ingested.accepted).toBe(1)
    const after = await ask()
    expect(after.decision).toBe('deny')
    expect(after.rate_limit.limit_type).toBe('tokens_per_minute')
  })

  it('context.rate_limited and a negative estimate are refused, counting nothing', async () => {
    const { ws, key } = await workspaceWithKey('Refused')
    for (const context of [
      { rate_limited: false },
      { estimated_tokens: -5 },
      { estimated_tokens: 1.5 },
    ]) {
      const d = await decideOn(0, authorizeBody(ws, key, 'invoke_model', context))
      expect(d.decision).toBe('deny')
      expect(d.errors[0].code).toBe('invalid_request')
    }
  })
})
