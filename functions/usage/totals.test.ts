import { describe, expect, it } from 'vitest'
import type { UsageEvent } from '../model/index.js'
import { totalsDeltas } from './totals.js'

const event = (overrides: Partial<UsageEvent> = {}): UsageEvent => ({
  id: 'evt_1',
  organization_id: 'org_a',
  workspace_id: 'ws_a',
  timestamp: '2026-11-27T13:45:10.000Z',
  product: 'chat',
  model: 'claude-sonnet-4',
  api_key_id: 'key_a',
  member_id: null,
  input_tokens: 100,
  output_tokens: 20,
  requests: 1,
  cost_micros: 600,
  ...overrides,
})

const none = { workspace_id: null, model: null, product: null, api_key_id: null, member_id: null }

describe('totalsDeltas', () => {
  it('adds one event to its hour and day (all dimensions) and to its workspace and org months', () => {
    const deltas = totalsDeltas([event()])
    const all = {
      workspace_id: 'ws_a',
      model: 'claude-sonnet-4',
      product: 'chat',
      api_key_id: 'key_a',
      member_id: null,
    }
    const amounts = { input_tokens: 100, output_tokens: 20, requests: 1, cost_micros: 600 }
    expect(deltas).toEqual([
      {
        granularity: 'hour',
        organization_id: 'org_a',
        bucket_start: new Date('2026-11-27T13:00:00.000Z'),
        dimensions: all,
        ...amounts,
      },
      {
        granularity: 'day',
        organization_id: 'org_a',
        bucket_start: new Date('2026-11-27T00:00:00.000Z'),
        dimensions: all,
        ...amounts,
      },
      {
        granularity: 'month',
        organization_id: 'org_a',
        bucket_start: new Date('2026-11-01T00:00:00.000Z'),
        dimensions: { ...none, workspace_id: 'ws_a' },
        ...amounts,
      },
      {
        granularity: 'month',
        organization_id: 'org_a',
        bucket_start: new Date('2026-11-01T00:00:00.000Z'),
        dimensions: none,
        ...amounts,
      },
    ])
  })

  it('sums events of the same item into one delta and keeps different items apart', () => {
    const deltas = totalsDeltas([
      event({ id: 'evt_1' }),
      event({ id: 'evt_2', timestamp: '2026-11-27T13:59:59.999Z', cost_micros: 400 }),
      // Another hour and model in the same workspace: shares only the two month items (hours
      // and days carry the model).
      event({ id: 'evt_3', timestamp: '2026-11-27T14:00:00.000Z', model: 'claude-opus-4' }),
      // Another workspace: shares only the organization's month.
      event({ id: 'evt_4', workspace_id: 'ws_b', api_key_id: null }),
    ])
    const of = (granularity: string, workspaceId: string | null, model: string | null) =>
      deltas.filter(
        (d) =>
          d.granularity === granularity &&
          d.dimensions.workspace_id === workspaceId &&
          d.dimensions.model === model
      )
    const hourA = of('hour', 'ws_a', 'claude-sonnet-4')
    expect(hourA).toHaveLength(1)
    expect(hourA[0]).toMatchObject({ requests: 2, input_tokens: 200, cost_micros: 1000 })
    expect(of('hour', 'ws_a', 'claude-opus-4')[0]).toMatchObject({
      bucket_start: new Date('2026-11-27T14:00:00.000Z'),
      requests: 1,
    })
    expect(of('day', 'ws_a', 'claude-sonnet-4')[0]).toMatchObject({ requests: 2 })
    expect(of('month', 'ws_a', null)[0]).toMatchObject({ requests: 3, cost_micros: 1600 })
    expect(of('month', 'ws_b', null)[0]).toMatchObject({ requests: 1, cost_micros: 600 })
    expect(of('month', null, null)[0]).toMatchObject({ requests: 4, cost_micros: 2200 })
    // 3 hour items, 3 day items (ws_a×2 models, ws_b), 2 workspace months, 1 org month.
    expect(deltas).toHaveLength(9)
  })

  it('keeps organizations apart, even with the same workspace and event ids', () => {
    const deltas = totalsDeltas([event(), event({ organization_id: 'org_b' })])
    expect(deltas).toHaveLength(8)
    expect(deltas.filter((d) => d.organization_id === 'org_b')).toHaveLength(4)
    for (const delta of deltas) expect(delta.requests).toBe(1)
  })

  it('puts an event at a month boundary in the month it starts', () => {
    const deltas = totalsDeltas([event({ timestamp: '2026-12-01T00:00:00.000Z' })])
    const month = deltas.find((d) => d.granularity === 'month')!
    expect(month.bucket_start).toEqual(new Date('2026-12-01T00:00:00.000Z'))
    expect(totalsDeltas([])).toEqual([])
  })
})
