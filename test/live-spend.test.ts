import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../functions/app/app.js'
import { Db } from '../functions/store/db.js'
import { as, type Caller } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { aggregate, createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'

/**
 * Live spend (contract v1.1): a hard limit crossed by ingested events denies consumption within
 * 5 s, with no aggregation run, on every app instance; the aggregation later reports the exact
 * totals and the live figure converges to them.
 */
let h: Harness
let api: Caller
let org: Awaited<ReturnType<typeof createOrg>>
let svc: string

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  api = as(h, org.adminKey)
  svc = await createServiceKey(h)
})
afterAll(() => h.close())

/** 3.000000 of usage (1M input tokens of claude-sonnet-4 at the default price). */
function event(id: string, ws: string, key: string) {
  return usageEvent({
    id,
    organization_id: org.id,
    workspace_id: ws,
    api_key_id: key,
    timestamp: h.clock.now().toISOString(),
    model: 'claude-sonnet-4',
    input_tokens: 1_000_000,
  })
}

async function budgetOf(ws: string) {
  const res = await h.call('GET', '/v1/budgets?limit=100', { key: org.adminKey })
  expect(res.status, res.text).toBe(200)
  // biome-ignore lint/suspicious/noExplicitAny: budget bodies are read as JSON
  return res.body.data.find((b: any) => b.workspace_id === ws)
}

describe('a hard limit crossed by ingested events', () => {
  it('denies invoke_model on another instance within 5 s, without aggregation; the run then reconciles', async () => {
    const ws = (await api.create('/v1/workspaces', { name: 'Live' })).id as string
    const key = (await api.create('/v1/api-keys', { name: 'k', workspace_id: ws })).id as string
    await api.create(`/v1/workspaces/${ws}/spend-limit`, { monthly_limit: '5.00' }, 'PUT')
    // Another API instance over the same table, its decision cache warm before the usage.
    const other = createApp({
      db: new Db(h.db.doc, h.db.tableName),
      clock: h.clock,
      operatorKey: h.operatorKey,
    })
    const decide = async () => {
      const res = await other.request('/v1/authorize', {
        method: 'POST',
        headers: { authorization: `Bearer ${svc}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          organization_id: org.id,
          principal: { type: 'ApiKey', id: key },
          action: 'invoke_model',
          resource: { type: 'Workspace', id: ws },
        }),
      })
      // biome-ignore lint/suspicious/noExplicitAny: decision bodies are read as JSON
      return (await res.json()) as any
    }
    expect((await decide()).decision).toBe('allow')

    const first = await sendEvents(h, svc, [event('evt-live-1', ws, key)])
    expect(first.accepted).toBe(1)
    expect((await budgetOf(ws)).live_spend).toBe('3.000000')
    expect((await decide()).decision).toBe('allow')

    const crossedAt = performance.now()
    expect((await sendEvents(h, svc, [event('evt-live-2', ws, key)])).accepted).toBe(1)
    let denied: { decision: string; determining_policies: { policy_id: string }[] } | undefined
    while (performance.now() - crossedAt < 5000) {
      const d = await decide()
      if (d.decision === 'deny') {
        denied = d
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(denied, 'denied within 5 s').toBeDefined()
    expect(denied!.determining_policies.map((p) => p.policy_id)).toEqual([
      'forbid-workspace-budget-exhausted',
    ])
    let budget = await budgetOf(ws)
    expect(budget.live_spend).toBe('6.000000')
    expect(budget.spend).toBe('0.000000')

    // A retried request adds nothing (its events are duplicates).
    const retried = await sendEvents(h, svc, [event('evt-live-2', ws, key)])
    expect(retried.duplicates).toBe(1)
    expect((await budgetOf(ws)).live_spend).toBe('6.000000')

    // The run reports the exact totals; the live figure is the same, the scope stays suspended.
    await aggregate(h)
    budget = await budgetOf(ws)
    expect(budget.spend).toBe('6.000000')
    expect(budget.live_spend).toBe('6.000000')
    expect(budget.suspended).toBe(true)

    // More usage, then a run: live and exact move together.
    expect((await sendEvents(h, svc, [event('evt-live-3', ws, key)])).accepted).toBe(1)
    expect((await budgetOf(ws)).live_spend).toBe('9.000000')
    await aggregate(h)
    budget = await budgetOf(ws)
    expect([budget.spend, budget.live_spend]).toEqual(['9.000000', '9.000000'])

    // Raising the limit lifts the suspension at the next run.
    await api.create(`/v1/workspaces/${ws}/spend-limit`, { monthly_limit: '50.00' }, 'PUT')
    await aggregate(h)
    const audit = await h.call('GET', '/v1/audit-events?event_type=budget.suspended', {
      key: org.adminKey,
    })
    expect(
      // biome-ignore lint/suspicious/noExplicitAny: audit bodies are read as JSON
      audit.body.data.some((e: any) => e.target.id === ws && e.after.source === 'live_spend')
    ).toBe(true)
    const start = performance.now()
    let allowed = false
    while (!allowed && performance.now() - start < 5000) {
      allowed = (await decide()).decision === 'allow'
      if (!allowed) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(allowed).toBe(true)
  })
})

describe('a copy racing the first one', () => {
  it('both accepted add live spend twice; the run takes the dropped copy back, so a suspension it caused is lifted', async () => {
    const ws = (await api.create('/v1/workspaces', { name: 'Racing' })).id as string
    const key = (await api.create('/v1/api-keys', { name: 'k', workspace_id: ws })).id as string
    // One event is 3.00: once is under the limit, twice is over it.
    await api.create(`/v1/workspaces/${ws}/spend-limit`, { monthly_limit: '5.00' }, 'PUT')
    // The same new event sent twice at once: both requests check for duplicates before either
    // writes, so both accept it (the race the duplicate check cannot see; the job counts it once).
    let raced = false
    let id = ''
    for (let attempt = 0; attempt < 10 && !raced; attempt++) {
      id = `evt-race-${attempt}`
      const [a, b] = await Promise.all([
        sendEvents(h, svc, [event(id, ws, key)]),
        sendEvents(h, svc, [event(id, ws, key)]),
      ])
      raced = a.accepted === 1 && b.accepted === 1
      if (!raced) await aggregate(h)
    }
    expect(raced, 'two concurrent sends of one new event were both accepted').toBe(true)
    const before = await budgetOf(ws)
    expect(before.live_spend).toBe('6.000000')
    expect(before.suspended).toBe(true)

    const run = await aggregate(h)
    expect(run.duplicates_dropped).toBeGreaterThanOrEqual(1)
    const after = await budgetOf(ws)
    expect(after.spend).toBe('3.000000')
    expect(after.live_spend).toBe('3.000000')
    expect(after.suspended).toBe(false)
    // Running again changes nothing: the correction is taken once.
    await aggregate(h)
    expect((await budgetOf(ws)).live_spend).toBe('3.000000')
  })
})
