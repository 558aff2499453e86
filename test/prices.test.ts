import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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

beforeAll(async () => {
  h = await startHarness()
  svc = await createServiceKey(h)
})
afterAll(() => h.close())

describe('prices', () => {
  it('starts from the shipped defaults', async () => {
    const org = await createOrg(h)
    const res = await h.call('GET', '/v1/prices', { key: org.adminKey })
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe('"0"')
    expect(res.body.data).toContainEqual({
      model: 'claude-sonnet-4',
      input_per_million: '3.000000',
      output_per_million: '15.000000',
      per_request: null,
      effective_from: '2025-01-01T00:00:00.000Z',
      source: 'default',
    })
  })

  it("applies an organization's price from its effective_from on, at ingestion", async () => {
    const org = await createOrg(h)
    const put = await h.call('PUT', '/v1/prices', {
      key: org.adminKey,
      body: {
        prices: [
          {
            model: 'claude-sonnet-4',
            input_per_million: '2.5',
            output_per_million: '10',
            per_request: '0.001',
            effective_from: '2026-11-20T00:00:00Z',
          },
        ],
      },
    })
    expect(put.status).toBe(200)
    expect(put.body.version).toBe(1)
    expect(put.body.data.filter((p: { model: string }) => p.model === 'claude-sonnet-4')).toEqual([
      expect.objectContaining({ source: 'default', input_per_million: '3.000000' }),
      {
        model: 'claude-sonnet-4',
        input_per_million: '2.500000',
        output_per_million: '10.000000',
        per_request: '0.001000',
        effective_from: '2026-11-20T00:00:00.000Z',
        source: 'organization',
      },
    ])
    const event = (id: string, timestamp: string) =>
      usageEvent({
        id,
        organization_id: org.id,
        workspace_id: org.defaultWorkspaceId,
        timestamp,
        input_tokens: 1_000_000,
        output_tokens: 1_000_000,
      })
    await sendEvents(h, svc, [
      event('before', '2026-11-19T23:59:59Z'), // default: 3 + 15
      event('after', '2026-11-20T00:00:00Z'), // own: 2.5 + 10 + 0.001
    ])
    await aggregate(h)
    const costs = await h.call(
      'GET',
      '/v1/costs?starting_at=2026-11-19T00:00:00Z&ending_at=2026-11-21T00:00:00Z',
      { key: org.adminKey }
    )
    expect(costs.body.data.map((b: { results: { cost: string }[] }) => b.results[0]?.cost)).toEqual(
      ['18.000000', '12.501000']
    )
    const audit = await h.call('GET', '/v1/audit-events?event_type=prices.updated', {
      key: org.adminKey,
    })
    expect(audit.body.data).toHaveLength(1)
  })

  it('rejects duplicate entries and stale versions; an empty list restores the defaults', async () => {
    const org = await createOrg(h)
    const entry = {
      model: 'custom-model',
      input_per_million: '1',
      output_per_million: '2',
      effective_from: '2026-01-01T00:00:00Z',
    }
    const dup = await h.call('PUT', '/v1/prices', {
      key: org.adminKey,
      body: { prices: [entry, { ...entry, input_per_million: '5' }] },
    })
    expect(dup.status).toBe(400)
    expect(dup.body.error.param).toBe('prices')
    const bad = await h.call('PUT', '/v1/prices', {
      key: org.adminKey,
      body: { prices: [{ ...entry, input_per_million: '1.5e3' }] },
    })
    expect(bad.status).toBe(400)
    expect(bad.body.error.param).toBe('prices.0.input_per_million')
    const ok = await h.call('PUT', '/v1/prices', { key: org.adminKey, body: { prices: [entry] } })
    expect(ok.status).toBe(200)
    const stale = await h.call('PUT', '/v1/prices', {
      key: org.adminKey,
      headers: { 'if-match': '"0"' },
      body: { prices: [] },
    })
    expect(stale.status).toBe(412)
    const reset = await h.call('PUT', '/v1/prices', {
      key: org.adminKey,
      headers: { 'if-match': ok.headers.get('etag')! },
      body: { prices: [] },
    })
    expect(reset.status).toBe(200)
    expect(reset.body.data.every((p: { source: string }) => p.source === 'default')).toBe(true)
  })

  it('lets billing_manager set prices, but not member', async () => {
    const org = await createOrg(h)
    const key = (role: string) => adminKeyWithRole(h, org.adminKey, role)
    const body = { prices: [] }
    expect(
      (await h.call('PUT', '/v1/prices', { key: await key('billing_manager'), body })).status
    ).toBe(200)
    expect((await h.call('PUT', '/v1/prices', { key: await key('member'), body })).status).toBe(403)
  })
})
