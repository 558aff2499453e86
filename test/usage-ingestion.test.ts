import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { usageEvents } from '../functions/store/usage/events.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { aggregate, createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'

let h: Harness
let svc: string
let org: Awaited<ReturnType<typeof createOrg>>
let other: Awaited<ReturnType<typeof createOrg>>
const DAY = 86_400_000

beforeAll(async () => {
  h = await startHarness()
  svc = await createServiceKey(h)
  org = await createOrg(h, 'Acme')
  other = await createOrg(h, 'Globex')
})
afterAll(() => h.close())

const at = (offsetMs: number) => new Date(h.clock.now().getTime() + offsetMs).toISOString()
const event = (id: string, extra: Record<string, unknown> = {}) =>
  usageEvent({
    id,
    organization_id: org.id,
    workspace_id: org.defaultWorkspaceId,
    timestamp: at(0),
    input_tokens: 1000,
    output_tokens: 100,
    ...extra,
  })

/** Monthly cost per workspace of the org, as the costs report shows it. */
async function costByWorkspace(adminKey: string) {
  const res = await h.call(
    'GET',
    `/v1/costs?starting_at=${at(-40 * DAY)}&bucket_width=1mo&group_by=workspace_id`,
    { key: adminKey }
  )
  expect(res.status).toBe(200)
  const totals: Record<string, string> = {}
  for (const bucket of res.body.data) {
    for (const result of bucket.results)
      totals[`${bucket.starting_at} ${result.workspace_id}`] = result.cost
  }
  return totals
}

describe('POST /v1/usage/events', () => {
  it('admits only service keys', async () => {
    const body = { events: [event('auth-1')] }
    expect((await h.call('POST', '/v1/usage/events', { body })).status).toBe(401)
    const asAdmin = await h.call('POST', '/v1/usage/events', { key: org.adminKey, body })
    expect(asAdmin.status).toBe(403)
    expect(asAdmin.body.error.type).toBe('permission')
    const asOperator = await h.call('POST', '/v1/usage/events', { key: h.operatorKey, body })
    expect(asOperator.status).toBe(403)
  })

  it('judges each event on its own and reports why one is rejected', async () => {
    const result = await sendEvents(h, svc, [
      event('judge-ok'),
      { id: 'judge-shape', organization_id: org.id },
      event('judge-no-org', { organization_id: 'org_nope' }),
      event('judge-no-ws', { workspace_id: 'ws_nope' }),
      event('judge-foreign-ws', { workspace_id: other.defaultWorkspaceId }),
      event('judge-old', { timestamp: at(-35 * DAY - 1000) }),
      event('judge-future', { timestamp: at(5 * 60_000 + 1000) }),
      event('judge-model', { model: 'no-such-model' }),
      event('judge-extra', { surprise: true }),
      event('judge-negative', { input_tokens: -1 }),
      event('judge-oldest-allowed', { timestamp: at(-35 * DAY) }),
      event('judge-latest-allowed', { timestamp: at(5 * 60_000) }),
    ])
    expect(result.accepted).toBe(3)
    expect(result.duplicates).toBe(0)
    expect(result.rejected.map((r) => [r.index, r.error.code, r.error.param])).toEqual([
      [1, 'invalid_event', 'events.1.workspace_id'],
      [2, 'unknown_organization', 'events.2.organization_id'],
      [3, 'unknown_workspace', 'events.3.workspace_id'],
      [4, 'unknown_workspace', 'events.4.workspace_id'],
      [5, 'timestamp_too_old', 'events.5.timestamp'],
      [6, 'timestamp_in_future', 'events.6.timestamp'],
      [7, 'unknown_model', 'events.7.model'],
      [8, 'invalid_event', 'events.8'],
      [9, 'invalid_event', 'events.9.input_tokens'],
    ])
    expect(result.rejected[6]!.error.message).toMatch(/no-such-model/)
  })

  it('counts an id seen before for the organization as a duplicate, never twice', async () => {
    const first = await sendEvents(h, svc, [event('dup-1'), event('dup-2'), event('dup-1')])
    expect(first).toEqual({ accepted: 2, duplicates: 1, rejected: [] })
    const retry = await sendEvents(h, svc, [event('dup-1'), event('dup-2'), event('dup-3')])
    expect(retry).toEqual({ accepted: 1, duplicates: 2, rejected: [] })
    // The same id in another organization is another event.
    const elsewhere = await sendEvents(h, svc, [
      usageEvent({
        id: 'dup-1',
        organization_id: other.id,
        workspace_id: other.defaultWorkspaceId,
        timestamp: at(0),
      }),
    ])
    expect(elsewhere.accepted).toBe(1)
  })

  it('counts concurrent retries of the same batch once', async () => {
    const ws = await h.call('POST', '/v1/workspaces', { key: org.adminKey, body: { name: 'Race' } })
    const batch = Array.from({ length: 40 }, (_, i) =>
      event(`race-${i}`, { workspace_id: ws.body.id, input_tokens: 1_000_000, output_tokens: 0 })
    )
    const responses = await Promise.all([1, 2, 3].map(() => sendEvents(h, svc, batch)))
    // Every event was taken by some request; a racing copy may report it as accepted too.
    for (const response of responses) {
      expect(response.accepted + response.duplicates).toBe(40)
    }
    await aggregate(h)
    const costs = await costByWorkspace(org.adminKey)
    const month = new Date(h.clock.now()).toISOString().slice(0, 7)
    expect(costs[`${month}-01T00:00:00.000Z ${ws.body.id}`]).toBe('120.000000') // 40 × $3
  })

  it('prices each event at ingestion, per million tokens and per request', async () => {
    const ws = await h.call('POST', '/v1/workspaces', { key: org.adminKey, body: { name: 'Cost' } })
    await sendEvents(h, svc, [
      event('cost-1', { workspace_id: ws.body.id }), // 1000 × 3 + 100 × 15 per M = 0.0045
      event('cost-2', { workspace_id: ws.body.id, model: 'web-search', requests: 3 }), // 0.03
      event('cost-3', { workspace_id: ws.body.id, input_tokens: 1, output_tokens: 0 }), // 0.000003
    ])
    await aggregate(h)
    const costs = await costByWorkspace(org.adminKey)
    const month = new Date(h.clock.now()).toISOString().slice(0, 7)
    expect(costs[`${month}-01T00:00:00.000Z ${ws.body.id}`]).toBe('0.034503')
  })

  it('keeps the raw event until its retention ends (TTL 45 days after its timestamp)', async () => {
    const timestamp = at(-DAY)
    await sendEvents(h, svc, [event('ttl-1', { timestamp })])
    const [raw] = await usageEvents.stored(h.db, org.id, 'ttl-1', h.clock.now())
    expect(raw?.expires_at_epoch).toBe(Math.ceil((Date.parse(timestamp) + 45 * DAY) / 1000))
    expect(raw?.workspace_id).toBe(org.defaultWorkspaceId)
  })

  it('rejects a whole request only when it is not a batch of 1 to 1,000 events', async () => {
    const tooMany = Array.from({ length: 1001 }, (_, i) => event(`many-${i}`))
    const big = await h.call('POST', '/v1/usage/events', { key: svc, body: { events: tooMany } })
    expect(big.status).toBe(400)
    expect(big.body.error.param).toBe('events')
    const empty = await h.call('POST', '/v1/usage/events', { key: svc, body: { events: [] } })
    expect(empty.status).toBe(400)
    const broken = await h.call('POST', '/v1/usage/events', { key: svc, body: '{"events":[' })
    expect(broken.status).toBe(400)
    const full = await sendEvents(
      h,
      svc,
      Array.from({ length: 1000 }, (_, i) => event(`full-${i}`, { input_tokens: 1 }))
    )
    expect(full.accepted).toBe(1000)
  })
})
