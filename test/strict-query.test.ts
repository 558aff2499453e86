import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { aggregate, createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'

/** Contract v1.1 "Strict requests": unknown query parameters → 400; array filter spellings. */
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let research: string
let ops: string

const NO_OPUS = `forbid (principal, action == Action::"use_chat", resource)
when { context has model && context.model == "claude-opus-4" };`

beforeAll(async () => {
  h = await startHarness()
  h.clock.set('2026-11-27T10:30:00.000Z')
  const svc = await createServiceKey(h)
  org = await createOrg(h, 'Acme')
  const workspace = async (name: string) =>
    (await h.call('POST', '/v1/workspaces', { key: org.adminKey, body: { name } })).body.id
  research = await workspace('Research')
  ops = await workspace('Ops')
  const base = { input_tokens: 1_000_000, output_tokens: 0 } // sonnet: $3, haiku-4: $1
  await sendEvents(h, svc, [
    usageEvent({
      id: 'd1',
      organization_id: org.id,
      workspace_id: org.defaultWorkspaceId,
      timestamp: '2026-11-27T09:10:00Z',
      ...base,
    }),
    usageEvent({
      id: 'r1',
      organization_id: org.id,
      workspace_id: research,
      timestamp: '2026-11-27T09:20:00Z',
      model: 'claude-haiku-4',
      ...base,
    }),
    usageEvent({
      id: 'r2',
      organization_id: org.id,
      workspace_id: research,
      timestamp: '2026-11-26T09:20:00Z',
      product: 'code',
      ...base,
    }),
    usageEvent({
      id: 'o1',
      organization_id: org.id,
      workspace_id: ops,
      timestamp: '2026-11-26T12:00:00Z',
      input_tokens: 2_000_000,
      output_tokens: 0,
    }),
  ])
  await aggregate(h)
  const put = await h.call('PUT', '/v1/policies/no-opus', {
    key: org.adminKey,
    body: { cedar: NO_OPUS },
  })
  expect(put.status).toBeLessThan(300)
})
afterAll(() => h.close())

const get = (path: string) => h.call('GET', path, { key: org.adminKey })
const RANGE = 'starting_at=2026-11-26T00:00:00Z&ending_at=2026-11-28T00:00:00Z'

describe('unknown query parameters', () => {
  it.each([
    ['/v1/usage?starting_at=2026-11-26T00:00:00Z&workspace=x', 'workspace'],
    ['/v1/costs?starting_at=2026-11-26T00:00:00Z&groupby=workspace_id', 'groupby'],
    ['/v1/costs?starting_at=2026-11-26T00:00:00Z&api_key_id=x', 'api_key_id'],
    ['/v1/audit-events?actor=x', 'actor'],
    ['/v1/members?mail=a@example.com', 'mail'],
    ['/v1/members?limit=5&LIMIT=5', 'LIMIT'],
    ['/v1/workspaces?state=archived', 'state'],
    ['/v1/policies?kind=custom', 'kind'],
    ['/v1/api-keys?workspace_ids=x', 'workspace_ids'],
    ['/v1/organization?verbose=1', 'verbose'],
  ])('%s → 400 naming %s', async (path, name) => {
    const res = await get(path)
    expect(res.status).toBe(400)
    expect(res.body.error).toMatchObject({ type: 'invalid_request', param: name })
    expect(res.body.error.message).toContain(`'${name}'`)
  })

  it('lists the accepted parameters in the message', async () => {
    const res = await get('/v1/members?sort=email')
    expect(res.body.error.message).toMatch(/accepted: limit, after, email, status/)
    const usage = await get(`/v1/usage?${RANGE}&groupby=model`)
    expect(usage.body.error.message).toContain('group_by')
    expect(usage.body.error.message).toContain('workspace_id')
  })

  it('still says a scalar given twice may be given only once', async () => {
    const res = await get('/v1/members?limit=5&limit=6')
    expect(res.status).toBe(400)
    expect(res.body.error).toMatchObject({ param: 'limit' })
    expect(res.body.error.message).toContain('only once')
    expect((await get('/v1/members?limit[]=5')).body.error.param).toBe('limit[]')
  })
})

/** The costs of the page's results, as numbers (the money format is not under test here). */
async function totalCost(path: string): Promise<number[]> {
  const res = await get(path)
  expect(res.status, res.text).toBe(200)
  return res.body.data.flatMap((bucket: { results: { cost: string }[] }) =>
    bucket.results.map((r) => Number(r.cost))
  )
}

describe('array filter spellings', () => {
  const spellings = () => [
    `workspace_id=${research}&workspace_id=${ops}`,
    `workspace_id=${research},${ops}`,
    `workspace_id=${research}, ${ops}`,
    `workspace_id[]=${research}&workspace_id[]=${ops}`,
    `workspace_id%5B%5D=${research}&workspace_id%5B%5D=${ops}`,
    `workspace_ids=${research}&workspace_ids=${ops}`,
    `workspace_ids=${research},${ops}`,
    `workspace_ids[]=${research}&workspace_ids[]=${ops}`,
    `workspace_id=${research}&workspace_ids[]=${ops}`,
  ]

  it.each(['costs', 'usage'])(
    'every spelling filters GET /v1/%s like the canonical one',
    async (report) => {
      const base = `/v1/${report}?${RANGE}&bucket_width=1mo`
      const whole = await totalCost(base)
      const canonical = await totalCost(`${base}&workspace_id=${research},${ops}`)
      // Research $1 + $3, Ops $6 of the org's $13: the filter really filters.
      expect(canonical).toEqual([10])
      expect(whole).toEqual([13])
      for (const spelling of spellings()) {
        expect(await totalCost(`${base}&${spelling}`), spelling).toEqual(canonical)
      }
      expect(await totalCost(`${base}&workspace_ids[]=${ops}`)).toEqual([6])
    }
  )

  it('models and products are accepted under their plural and bracketed names', async () => {
    const base = `/v1/usage?${RANGE}&bucket_width=1mo`
    expect(await totalCost(`${base}&models[]=claude-haiku-4`)).toEqual([1])
    expect(await totalCost(`${base}&model[]=claude-haiku-4`)).toEqual([1])
    expect(await totalCost(`${base}&products=code`)).toEqual([3])
    expect(await totalCost(`/v1/costs?${RANGE}&bucket_width=1mo&products[]=code`)).toEqual([3])
  })

  it('group_by[] and repeated group_by group like group_by=a,b', async () => {
    const base = `/v1/costs?${RANGE}&bucket_width=1mo`
    const canonical = await get(`${base}&group_by=workspace_id,model`)
    expect(canonical.status).toBe(200)
    expect(canonical.body.data[0].results).toHaveLength(4) // default, Research ×2 models, Ops
    for (const spelling of [
      'group_by[]=workspace_id&group_by[]=model',
      'group_by=workspace_id&group_by=model',
    ]) {
      const res = await get(`${base}&${spelling}`)
      expect(res.status, spelling).toBe(200)
      expect(res.body.data, spelling).toEqual(canonical.body.data)
    }
  })

  it('a cursor issued for one spelling continues the same list under another', async () => {
    const first = await get(
      `/v1/usage?${RANGE}&bucket_width=1d&limit=1&workspace_ids[]=${research}`
    )
    expect(first.status).toBe(200)
    expect(first.body.next_page).toEqual(expect.any(String))
    const page = encodeURIComponent(first.body.next_page)
    const next = await get(
      `/v1/usage?${RANGE}&bucket_width=1d&limit=1&workspace_id=${research}&page=${page}`
    )
    expect(next.status, next.text).toBe(200)
    expect(next.body.data[0].starting_at).toBe('2026-11-27T00:00:00.000Z')
    // Another filter is another list: the cursor is refused.
    const other = await get(
      `/v1/usage?${RANGE}&bucket_width=1d&limit=1&workspace_id=${ops}&page=${page}`
    )
    expect(other.status).toBe(400)
    expect(other.body.error.param).toBe('page')
  })
})

describe('GET /v1/policies?source=', () => {
  it('custom → only the custom ones, builtin → only the built-ins', async () => {
    const custom = await get('/v1/policies?source=custom&limit=100')
    expect(custom.status).toBe(200)
    expect(custom.body.data.map((p: { id: string }) => p.id)).toEqual(['no-opus'])
    const builtin = await get('/v1/policies?source=builtin&limit=100')
    expect(builtin.body.data.length).toBeGreaterThan(1)
    expect(builtin.body.data.every((p: { source: string }) => p.source === 'builtin')).toBe(true)
    const all = await get('/v1/policies?limit=100')
    expect(all.body.data).toHaveLength(builtin.body.data.length + 1)
    const bad = await get('/v1/policies?source=mine')
    expect(bad.status).toBe(400)
    expect(bad.body.error.param).toBe('source')
  })
})
