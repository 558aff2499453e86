import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import {
  aggregate,
  createServiceKey,
  createUsageApiKey,
  createUsageMember,
  sendEvents,
  usageEvent,
} from './helpers/usage.js'

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let research: string
// Real key and member ids: ingestion rejects ids the organization does not have.
let key1: string
let key2: string
let mem1: string
const HOUR = 3_600_000

beforeAll(async () => {
  h = await startHarness()
  h.clock.set('2026-11-27T10:30:00.000Z')
  const svc = await createServiceKey(h)
  org = await createOrg(h, 'Acme')
  research = (
    await h.call('POST', '/v1/workspaces', { key: org.adminKey, body: { name: 'Research' } })
  ).body.id
  key1 = await createUsageApiKey(h, org.adminKey, org.defaultWorkspaceId)
  key2 = await createUsageApiKey(h, org.adminKey, research)
  mem1 = await createUsageMember(h, org.adminKey)
  const other = await createOrg(h, 'Globex')
  const base = { input_tokens: 1_000_000, output_tokens: 0 } // sonnet: $3, haiku-4: $1
  await sendEvents(h, svc, [
    usageEvent({
      id: 'a',
      organization_id: org.id,
      workspace_id: org.defaultWorkspaceId,
      timestamp: '2026-11-27T09:10:00Z',
      api_key_id: key1,
      ...base,
    }),
    usageEvent({
      id: 'b',
      organization_id: org.id,
      workspace_id: org.defaultWorkspaceId,
      timestamp: '2026-11-27T09:50:00Z',
      model: 'claude-haiku-4',
      member_id: mem1,
      ...base,
    }),
    usageEvent({
      id: 'c',
      organization_id: org.id,
      workspace_id: research,
      timestamp: '2026-11-27T10:05:00Z',
      product: 'code',
      api_key_id: key2,
      ...base,
    }),
    usageEvent({
      id: 'd',
      organization_id: org.id,
      workspace_id: research,
      timestamp: '2026-11-26T23:59:59Z',
      ...base,
    }),
    usageEvent({
      id: 'e',
      organization_id: org.id,
      workspace_id: research,
      timestamp: '2026-10-31T12:00:00Z',
      requests: 4,
      ...base,
    }),
    usageEvent({
      id: 'x',
      organization_id: other.id,
      workspace_id: other.defaultWorkspaceId,
      timestamp: '2026-11-27T09:00:00Z',
      ...base,
    }),
  ])
  await aggregate(h)
})
afterAll(() => h.close())

const get = (path: string, key = org.adminKey) => h.call('GET', path, { key })

describe('GET /v1/usage', () => {
  it('totals per UTC hour, grouped and filtered', async () => {
    const res = await get(
      '/v1/usage?starting_at=2026-11-27T09:00:00Z&ending_at=2026-11-27T11:00:00Z&bucket_width=1h&group_by=workspace_id,model'
    )
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      object: 'page',
      currency: 'USD',
      has_more: false,
      next_page: null,
    })
    expect(res.body.data).toEqual([
      {
        starting_at: '2026-11-27T09:00:00.000Z',
        ending_at: '2026-11-27T10:00:00.000Z',
        results: [
          {
            workspace_id: org.defaultWorkspaceId,
            model: 'claude-haiku-4',
            input_tokens: 1_000_000,
            output_tokens: 0,
            requests: 1,
            cost: '1.000000',
          },
          {
            workspace_id: org.defaultWorkspaceId,
            model: 'claude-sonnet-4',
            input_tokens: 1_000_000,
            output_tokens: 0,
            requests: 1,
            cost: '3.000000',
          },
        ],
      },
      {
        starting_at: '2026-11-27T10:00:00.000Z',
        ending_at: '2026-11-27T11:00:00.000Z',
        results: [
          {
            workspace_id: research,
            model: 'claude-sonnet-4',
            input_tokens: 1_000_000,
            output_tokens: 0,
            requests: 1,
            cost: '3.000000',
          },
        ],
      },
    ])
    const filtered = await get(
      `/v1/usage?starting_at=2026-11-27T00:00:00Z&bucket_width=1d&group_by=api_key_id,member_id&workspace_id=${org.defaultWorkspaceId}`
    )
    expect(filtered.body.data[0].results).toEqual([
      {
        api_key_id: null,
        member_id: mem1,
        input_tokens: 1_000_000,
        output_tokens: 0,
        requests: 1,
        cost: '1.000000',
      },
      {
        api_key_id: key1,
        member_id: null,
        input_tokens: 1_000_000,
        output_tokens: 0,
        requests: 1,
        cost: '3.000000',
      },
    ])
    const byProduct = await get(
      '/v1/usage?starting_at=2026-11-27T00:00:00Z&bucket_width=1d&product=code&model=claude-sonnet-4,claude-haiku-4'
    )
    expect(byProduct.body.data[0].results).toEqual([
      { input_tokens: 1_000_000, output_tokens: 0, requests: 1, cost: '3.000000' },
    ])
  })

  it('pages through buckets until the range ends, with every bucket listed', async () => {
    const seen: string[] = []
    let total = 0
    let page: string | null = null
    do {
      const res = await get(
        `/v1/usage?starting_at=2026-10-30T00:00:00Z&ending_at=2026-11-28T00:00:00Z&bucket_width=1d&limit=7${page ? `&page=${page}` : ''}`
      )
      expect(res.status).toBe(200)
      for (const bucket of res.body.data) {
        seen.push(bucket.starting_at)
        for (const r of bucket.results) total += r.requests
      }
      page = res.body.next_page
      expect(res.body.has_more).toBe(page !== null)
    } while (page)
    expect(seen).toHaveLength(29)
    expect(seen[0]).toBe('2026-10-30T00:00:00.000Z')
    expect(seen.at(-1)).toBe('2026-11-27T00:00:00.000Z')
    expect(total).toBe(8) // a, b, c, d and e's 4 requests
  })

  it('sums months from days, and CSV shows the same numbers as JSON', async () => {
    const query =
      'starting_at=2026-10-01T00:00:00Z&ending_at=2026-12-01T00:00:00Z&bucket_width=1mo&group_by=workspace_id'
    const json = await get(`/v1/usage?${query}`)
    // Workspaces in id order: the default one (created first), then Research.
    expect(json.body.data.map((b: { results: Record<string, unknown>[] }) => b.results)).toEqual([
      [
        {
          workspace_id: research,
          input_tokens: 1_000_000,
          output_tokens: 0,
          requests: 4,
          cost: '3.000000',
        },
      ],
      [
        {
          workspace_id: org.defaultWorkspaceId,
          input_tokens: 2_000_000,
          output_tokens: 0,
          requests: 2,
          cost: '4.000000',
        },
        {
          workspace_id: research,
          input_tokens: 2_000_000,
          output_tokens: 0,
          requests: 2,
          cost: '6.000000',
        },
      ],
    ])
    const csv = await get(`/v1/usage?${query}&format=csv`)
    expect(csv.status).toBe(200)
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/)
    const lines = csv.text.trim().split('\r\n')
    expect(lines[0]).toBe(
      'starting_at,ending_at,workspace_id,workspace_name,input_tokens,output_tokens,requests,cost,currency'
    )
    const fromJson = json.body.data.flatMap(
      (b: { starting_at: string; ending_at: string; results: Record<string, unknown>[] }) =>
        b.results.map((r) =>
          [
            b.starting_at.replace('.000Z', 'Z'),
            b.ending_at.replace('.000Z', 'Z'),
            r.workspace_id,
            r.workspace_id === research ? 'Research' : 'Default',
            r.input_tokens,
            r.output_tokens,
            r.requests,
            r.cost,
            'USD',
          ].join(',')
        )
    )
    expect(lines.slice(1)).toEqual(fromJson)
  })

  it('shows an organization only its own usage', async () => {
    const other = await createOrg(h, 'Initech')
    const res = await get(
      `/v1/usage?starting_at=2026-11-01T00:00:00Z&bucket_width=1mo&workspace_id=${org.defaultWorkspaceId}`,
      other.adminKey
    )
    expect(res.body.data.every((b: { results: unknown[] }) => b.results.length === 0)).toBe(true)
    const mine = await get('/v1/costs?starting_at=2026-11-01T00:00:00Z&bucket_width=1mo')
    expect(mine.body.data[0].results).toEqual([{ cost: '10.000000' }]) // not Globex's $3
  })

  it('rejects bad parameters with the offending one named', async () => {
    for (const [path, param] of [
      ['/v1/usage?bucket_width=1d', 'starting_at'],
      ['/v1/usage?starting_at=yesterday', 'starting_at'],
      ['/v1/usage?starting_at=2026-11-27T00:00:00Z&bucket_width=1w', 'bucket_width'],
      ['/v1/usage?starting_at=2026-11-27T00:00:00Z&group_by=team', 'group_by'],
      ['/v1/usage?starting_at=2026-11-27T00:00:00Z&ending_at=2026-11-26T00:00:00Z', 'ending_at'],
      ['/v1/usage?starting_at=2026-11-01T00:00:00Z&limit=32', 'limit'],
      ['/v1/usage?starting_at=2026-11-01T00:00:00Z&page=bogus', 'page'],
      ['/v1/costs?starting_at=2026-11-01T00:00:00Z&bucket_width=1h', 'bucket_width'],
      ['/v1/costs?starting_at=2026-11-01T00:00:00Z&group_by=api_key_id', 'group_by'],
    ] as const) {
      const res = await get(path)
      expect(res.status, path).toBe(400)
      expect(res.body.error.param, path).toBe(param)
    }
  })
})

describe('GET /v1/costs', () => {
  it('reports cost per day and group, in JSON and CSV', async () => {
    const query = 'starting_at=2026-11-26T00:00:00Z&ending_at=2026-11-28T00:00:00Z&group_by=product'
    const json = await get(`/v1/costs?${query}`)
    expect(json.body.data).toEqual([
      {
        starting_at: '2026-11-26T00:00:00.000Z',
        ending_at: '2026-11-27T00:00:00.000Z',
        results: [{ product: 'chat', cost: '3.000000' }],
      },
      {
        starting_at: '2026-11-27T00:00:00.000Z',
        ending_at: '2026-11-28T00:00:00.000Z',
        results: [
          { product: 'chat', cost: '4.000000' },
          { product: 'code', cost: '3.000000' },
        ],
      },
    ])
    const csv = await get(`/v1/costs?${query}&format=csv`)
    expect(csv.text).toBe(
      'starting_at,ending_at,product,cost,currency\r\n' +
        '2026-11-26T00:00:00Z,2026-11-27T00:00:00Z,chat,3.000000,USD\r\n' +
        '2026-11-27T00:00:00Z,2026-11-28T00:00:00Z,chat,4.000000,USD\r\n' +
        '2026-11-27T00:00:00Z,2026-11-28T00:00:00Z,code,3.000000,USD\r\n'
    )
  })

  it('defaults the end to the bucket that holds now', async () => {
    h.clock.advance(HOUR)
    const res = await get('/v1/costs?starting_at=2026-11-25T00:00:00Z')
    expect(res.body.data.map((b: { starting_at: string }) => b.starting_at.slice(0, 10))).toEqual([
      '2026-11-25',
      '2026-11-26',
      '2026-11-27',
    ])
  })
})
