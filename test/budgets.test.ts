import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Budget, BudgetAlert } from '../functions/model/index.js'
import { runAggregation } from '../functions/usage/aggregation.js'
import { budgetSuspension } from './helpers/budget-suspension.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import {
  adminKeyWithRole,
  aggregate,
  createServiceKey,
  sendEvents,
  usageEvent,
} from './helpers/usage.js'

let h: Harness
let svc: string
let counter = 0

beforeAll(async () => {
  h = await startHarness()
  svc = await createServiceKey(h)
})
afterAll(() => h.close())

/** Spends whole dollars: claude-haiku-4 input costs $1 per million tokens. */
async function spend(org: { id: string }, workspaceId: string, dollars: number) {
  // claude-haiku-4 input: $1 per million tokens.
  await sendEvents(h, svc, [
    usageEvent({
      id: `spend-${counter++}`,
      organization_id: org.id,
      workspace_id: workspaceId,
      timestamp: h.clock.now().toISOString(),
      model: 'claude-haiku-4',
      input_tokens: dollars * 1_000_000,
      output_tokens: 0,
    }),
  ])
}

async function budgets(adminKey: string) {
  const res = await h.call('GET', '/v1/budgets', { key: adminKey })
  expect(res.status).toBe(200)
  return res.body.data as Budget[]
}

async function newWorkspace(adminKey: string, name = 'Team') {
  const res = await h.call('POST', '/v1/workspaces', { key: adminKey, body: { name } })
  return res.body.id as string
}

describe('spend limits', () => {
  it('reads an unset limit as none, with the default thresholds', async () => {
    const org = await createOrg(h)
    const res = await h.call('GET', '/v1/spend-limit', { key: org.adminKey })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      object: 'spend_limit',
      workspace_id: null,
      monthly_limit: null,
      alert_thresholds_percent: [50, 80, 100],
      enforcement: 'hard',
      currency: 'USD',
      version: 0,
    })
  })

  it('sets limits with ETag/If-Match and audits the change', async () => {
    const org = await createOrg(h)
    const put = await h.call('PUT', '/v1/spend-limit', {
      key: org.adminKey,
      body: { monthly_limit: '500.5', alert_thresholds_percent: [90, 75, 75], enforcement: 'soft' },
    })
    expect(put.status).toBe(200)
    expect(put.body).toMatchObject({
      monthly_limit: '500.500000',
      alert_thresholds_percent: [75, 90],
      enforcement: 'soft',
      version: 1,
    })
    expect(put.headers.get('etag')).toBe('"1"')
    const stale = await h.call('PUT', '/v1/spend-limit', {
      key: org.adminKey,
      headers: { 'if-match': '"7"' },
      body: { monthly_limit: '10.00' },
    })
    expect(stale.status).toBe(412)
    const audit = await h.call('GET', '/v1/audit-events?event_type=spend_limit.updated', {
      key: org.adminKey,
    })
    expect(audit.body.data).toHaveLength(1)
    expect(audit.body.data[0].after.monthly_limit).toBe('500.500000')
  })

  it('rejects bad amounts and thresholds with the offending field', async () => {
    const org = await createOrg(h)
    for (const [body, param] of [
      [{ monthly_limit: '-1' }, 'monthly_limit'],
      [{ monthly_limit: '1.1234567' }, 'monthly_limit'],
      [{ monthly_limit: 12 }, 'monthly_limit'],
      [{ monthly_limit: '0' }, 'monthly_limit'],
      [{ monthly_limit: '5', alert_thresholds_percent: [0] }, 'alert_thresholds_percent.0'],
      [{ monthly_limit: '5', enforcement: 'strict' }, 'enforcement'],
      [{}, 'monthly_limit'],
    ] as const) {
      const res = await h.call('PUT', '/v1/spend-limit', { key: org.adminKey, body })
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.error.param).toBe(param)
    }
  })

  it('keeps workspace limits at or below the organization limit', async () => {
    const org = await createOrg(h)
    const ws = await newWorkspace(org.adminKey)
    await h.call('PUT', '/v1/spend-limit', { key: org.adminKey, body: { monthly_limit: '100' } })
    const above = await h.call('PUT', `/v1/workspaces/${ws}/spend-limit`, {
      key: org.adminKey,
      body: { monthly_limit: '100.01' },
    })
    expect(above.status).toBe(400)
    expect(above.body.error.message).toMatch(/above the organization's limit 100.00/)
    const equal = await h.call('PUT', `/v1/workspaces/${ws}/spend-limit`, {
      key: org.adminKey,
      body: { monthly_limit: '100' },
    })
    expect(equal.status).toBe(200)
    expect(equal.body.workspace_id).toBe(ws)
    const lower = await h.call('PUT', '/v1/spend-limit', {
      key: org.adminKey,
      body: { monthly_limit: '99' },
    })
    expect(lower.status).toBe(400)
    expect(lower.body.error.message).toContain(ws)
    const get = await h.call('GET', `/v1/workspaces/${ws}/spend-limit`, { key: org.adminKey })
    expect(get.body.monthly_limit).toBe('100.000000')
  })

  it("reports another organization's workspace as not found", async () => {
    const org = await createOrg(h)
    const other = await createOrg(h)
    for (const method of ['GET', 'PUT']) {
      const res = await h.call(method, `/v1/workspaces/${other.defaultWorkspaceId}/spend-limit`, {
        key: org.adminKey,
        ...(method === 'PUT' ? { body: { monthly_limit: '1' } } : {}),
      })
      expect(res.status).toBe(404)
    }
  })

  it('lets organization_admin and billing_manager change limits; member reads nothing', async () => {
    const org = await createOrg(h)
    const key = (role: string) => adminKeyWithRole(h, org.adminKey, role)
    const billing = await key('billing_manager')
    const member = await key('member')
    const put = (k: string) =>
      h.call('PUT', '/v1/spend-limit', { key: k, body: { monthly_limit: '5' } })
    expect((await put(billing)).status).toBe(200)
    expect((await put(member)).status).toBe(403)
    for (const path of [
      '/v1/spend-limit',
      `/v1/workspaces/${org.defaultWorkspaceId}/spend-limit`,
      '/v1/budgets',
      '/v1/prices',
      `/v1/usage?starting_at=${h.clock.now().toISOString()}`,
      `/v1/costs?starting_at=${h.clock.now().toISOString()}`,
    ]) {
      expect((await h.call('GET', path, { key: billing })).status, path).toBe(200)
      expect((await h.call('GET', path, { key: member })).status, path).toBe(403)
    }
    const roles = await h.call('GET', '/v1/roles', { key: org.adminKey })
    const billingRole = roles.body.data.find((r: { name: string }) => r.name === 'billing_manager')
    expect(billingRole.actions).toEqual(
      expect.arrayContaining(['read_usage_reports', 'update_spend_limits', 'update_prices'])
    )
  })
})

describe('budgets', () => {
  it('fires each threshold once a month, records it, and suspends at a hard limit', async () => {
    h.clock.set('2026-11-10T12:00:00.000Z')
    const org = await createOrg(h)
    const ws = await newWorkspace(org.adminKey)
    await h.call('PUT', `/v1/workspaces/${ws}/spend-limit`, {
      key: org.adminKey,
      body: { monthly_limit: '10.00' },
    })
    const published: BudgetAlert[] = []
    const publisher = { publish: async (alert: BudgetAlert) => void published.push(alert) }
    const run = () => runAggregation({ db: h.db, clock: h.clock, publisher })

    await spend(org, ws, 6)
    const first = await run()
    expect(first.alerts.map((a) => [a.workspace_id, a.threshold_percent])).toEqual([[ws, 50]])
    expect(published.map((a) => a.threshold_percent)).toEqual([50])
    let budget = (await budgets(org.adminKey)).find((b) => b.workspace_id === ws)!
    expect(budget).toMatchObject({
      month: '2026-11',
      spend: '6.000000',
      limit: '10.000000',
      percent_used: 60,
      state: 'warning',
      suspended: false,
      last_evaluated_at: '2026-11-10T12:00:00.000Z',
    })
    // Linear forecast: $6 in 9.5 of 30 days → $18.947368…
    expect(budget.forecast_month_end).toBe('18.947368')

    await spend(org, ws, 1)
    expect((await run()).alerts).toEqual([]) // 70 %: nothing new to fire
    await spend(org, ws, 4)
    const crossing = await run()
    expect(crossing.alerts.map((a) => a.threshold_percent)).toEqual([80, 100])
    expect(crossing.alerts.every((a) => a.suspended && a.spend === '11.000000')).toBe(true)
    budget = (await budgets(org.adminKey)).find((b) => b.workspace_id === ws)!
    expect(budget).toMatchObject({ state: 'exceeded', suspended: true, percent_used: 110 })
    expect(budget.alerts.map((a: BudgetAlert) => a.threshold_percent)).toEqual([50, 80, 100])
    expect(await budgetSuspension(h.db, org.id, ws)).toEqual({
      organization: false,
      workspace: true,
    })
    expect(await budgetSuspension(h.db, org.id, org.defaultWorkspaceId)).toEqual({
      organization: false,
      workspace: false,
    })
    expect(published.map((a) => a.threshold_percent)).toEqual([50, 80, 100])
    const audit = await h.call('GET', '/v1/audit-events', { key: org.adminKey })
    const types = audit.body.data.map((e: { event_type: string }) => e.event_type)
    expect(types.filter((t: string) => t === 'budget.alert')).toHaveLength(3)
    expect(types).toContain('budget.suspended')

    // Runs with nothing new fire nothing again.
    expect((await run()).alerts).toEqual([])

    // Raising the limit lifts the suspension at the next run.
    await h.call('PUT', `/v1/workspaces/${ws}/spend-limit`, {
      key: org.adminKey,
      body: { monthly_limit: '20.00' },
    })
    await run()
    expect(await budgetSuspension(h.db, org.id, ws)).toEqual({
      organization: false,
      workspace: false,
    })
    budget = (await budgets(org.adminKey)).find((b) => b.workspace_id === ws)!
    expect(budget).toMatchObject({ state: 'warning', suspended: false, percent_used: 55 })

    // Over again, then a new month starts: spend, alerts and suspension start afresh.
    await spend(org, ws, 10)
    await run()
    expect((await budgetSuspension(h.db, org.id, ws)).workspace).toBe(true)
    h.clock.set('2026-12-01T00:30:00.000Z')
    expect((await budgets(org.adminKey)).find((b) => b.workspace_id === ws)!.suspended).toBe(true)
    await run()
    budget = (await budgets(org.adminKey)).find((b) => b.workspace_id === ws)!
    expect(budget).toMatchObject({
      month: '2026-12',
      spend: '0.000000',
      state: 'ok',
      suspended: false,
      alerts: [],
    })
    expect((await budgetSuspension(h.db, org.id, ws)).workspace).toBe(false)
    await spend(org, ws, 10)
    expect((await run()).alerts.map((a) => a.threshold_percent)).toEqual([50])
    const later = await h.call('GET', '/v1/audit-events?event_type=budget.resumed', {
      key: org.adminKey,
    })
    expect(later.body.data).toHaveLength(2)
  })

  it('suspends the whole organization at its hard limit, but never for a soft one', async () => {
    h.clock.set('2026-11-15T00:00:00.000Z')
    const hard = await createOrg(h)
    await h.call('PUT', '/v1/spend-limit', { key: hard.adminKey, body: { monthly_limit: '2' } })
    const soft = await createOrg(h)
    await h.call('PUT', '/v1/spend-limit', {
      key: soft.adminKey,
      body: { monthly_limit: '2', enforcement: 'soft', alert_thresholds_percent: [100, 150] },
    })
    const ws = await newWorkspace(hard.adminKey)
    await spend(hard, hard.defaultWorkspaceId, 1)
    await spend(hard, ws, 2)
    await spend(soft, soft.defaultWorkspaceId, 3)
    await aggregate(h)
    expect(await budgetSuspension(h.db, hard.id, ws)).toEqual({
      organization: true,
      workspace: false,
    })
    const [orgBudget] = await budgets(hard.adminKey)
    expect(orgBudget).toMatchObject({ scope: 'organization', spend: '3.000000', suspended: true })
    const [softBudget] = await budgets(soft.adminKey)
    expect(softBudget).toMatchObject({ state: 'exceeded', suspended: false, percent_used: 150 })
    expect(softBudget!.alerts.map((a: BudgetAlert) => a.threshold_percent)).toEqual([100, 150])
    expect(await budgetSuspension(h.db, soft.id, soft.defaultWorkspaceId)).toEqual({
      organization: false,
      workspace: false,
    })
  })

  it('lists the organization first, then pages of workspaces', async () => {
    const org = await createOrg(h)
    for (const name of ['A', 'B', 'C']) await newWorkspace(org.adminKey, name)
    const first = await h.call('GET', '/v1/budgets?limit=2', { key: org.adminKey })
    expect(first.body.data.map((b: { scope: string }) => b.scope)).toEqual([
      'organization',
      'workspace',
      'workspace',
    ])
    expect(first.body.has_more).toBe(true)
    const second = await h.call(`GET`, `/v1/budgets?limit=2&after=${first.body.next_cursor}`, {
      key: org.adminKey,
    })
    expect(second.body.data.map((b: { scope: string }) => b.scope)).toEqual([
      'workspace',
      'workspace',
    ])
    expect(second.body.data[0]).toMatchObject({
      spend: '0.000000',
      state: 'ok',
      last_evaluated_at: null,
    })
  })
})
