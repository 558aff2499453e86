import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OrgRole } from '../functions/model/index.js'
import { as, type Caller } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import {
  BILLING_WRITERS,
  describeRoleMatrix,
  READERS,
  type RoleMatrixRow,
} from './helpers/role-matrix.js'

/**
 * The rate-limit Admin API (contract v1.1 "Rate limits"): roles, validation against the other
 * level, include_inherited, audit, If-Match, and tenant isolation.
 */
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let api: Caller
const keys = {} as Record<OrgRole, string>
let matrixWs: string

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  api = as(h, org.adminKey)
  for (const role of ['organization_admin', 'billing_manager', 'member'] as const) {
    keys[role] = (await api.create('/v1/admin-keys', { name: role, org_roles: [role] })).secret
  }
  matrixWs = (await api.create('/v1/workspaces', { name: 'Matrix' })).id
})
afterAll(() => h.close())

const limits = { limits: [{ model: '*', requests_per_minute: 100 }] }
const rows: RoleMatrixRow[] = [
  {
    route: 'GET /v1/rate-limits',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: '/v1/rate-limits' }),
  },
  {
    route: 'PUT /v1/rate-limits',
    allowed: BILLING_WRITERS,
    request: async () => ({ method: 'PUT', path: '/v1/rate-limits', body: limits }),
  },
  {
    route: 'GET /v1/workspaces/{id}/rate-limits',
    allowed: READERS,
    request: async () => ({
      method: 'GET',
      path: `/v1/workspaces/${matrixWs}/rate-limits?include_inherited=true`,
    }),
  },
  {
    route: 'PUT /v1/workspaces/{id}/rate-limits',
    allowed: BILLING_WRITERS,
    request: async () => ({
      method: 'PUT',
      path: `/v1/workspaces/${matrixWs}/rate-limits`,
      body: limits,
    }),
  },
]
describeRoleMatrix(rows, () => ({ h, keys }))

async function auditOf(eventType: string, targetId: string) {
  const res = await api.get(`/v1/audit-events?event_type=${eventType}&target_id=${targetId}`)
  expect(res.status).toBe(200)
  return res.body.data
}

describe('rate limits', () => {
  it('start empty, are replaced by PUT with an ETag, and every change is audited', async () => {
    const other = await createOrg(h, 'Fresh')
    const caller = as(h, other.adminKey)
    const empty = await caller.get('/v1/rate-limits')
    expect(empty.body).toMatchObject({ object: 'rate_limits', limits: [], version: 0 })
    const put = await caller.put('/v1/rate-limits', {
      limits: [
        { model: '*', requests_per_minute: 600, tokens_per_minute: null },
        { model: 'claude-opus-4', tokens_per_month: 5_000_000 },
      ],
    })
    expect(put.status, put.text).toBe(200)
    expect(put.headers.get('etag')).toBe('"1"')
    expect(put.body.limits).toEqual([
      { model: '*', requests_per_minute: 600, tokens_per_minute: null, tokens_per_month: null },
      {
        model: 'claude-opus-4',
        requests_per_minute: null,
        tokens_per_minute: null,
        tokens_per_month: 5_000_000,
      },
    ])
    expect((await caller.get('/v1/rate-limits')).body).toEqual(put.body)
    const audit = await caller.get(`/v1/audit-events?event_type=rate_limits.updated`)
    expect(audit.body.data).toHaveLength(1)
    expect(audit.body.data[0]).toMatchObject({ before: null, after: put.body })
    // The same limits again change nothing and are not audited again.
    expect((await caller.put('/v1/rate-limits', { limits: put.body.limits })).body.version).toBe(1)
    const stale = await caller.put('/v1/rate-limits', { limits: [] }, { 'if-match': '"7"' })
    expect(stale.status).toBe(412)
    expect((await caller.get('/v1/rate-limits')).body.version).toBe(1)
  })

  it('a workspace value above the organization value is a 400 that changes nothing', async () => {
    const ws = (await api.create('/v1/workspaces', { name: 'Capped' })).id
    await api.create(
      '/v1/rate-limits',
      {
        limits: [
          { model: '*', requests_per_minute: 1000, tokens_per_minute: 100_000 },
          { model: 'claude-opus-4', tokens_per_minute: 10_000 },
        ],
      },
      'PUT'
    )
    for (const [body, param] of [
      [{ limits: [{ model: '*', requests_per_minute: 1001 }] }, 'limits.0.requests_per_minute'],
      // No entry for the model at the organization: its `*` caps it.
      [{ limits: [{ model: 'm', tokens_per_minute: 100_001 }] }, 'limits.0.tokens_per_minute'],
      [
        { limits: [{ model: '*' }, { model: 'claude-opus-4', tokens_per_minute: 20_000 }] },
        'limits.1.tokens_per_minute',
      ],
      [{ limits: [{ model: '*' }, { model: '*' }] }, 'limits.1.model'],
      [{ limits: [{ model: '*', requests_per_minute: 0 }] }, 'limits.0.requests_per_minute'],
      [{ limits: [{ model: '*', requests_per_minute: 1.5 }] }, 'limits.0.requests_per_minute'],
      [{ limits: [{ model: '*', requests_per_second: 5 }] }, 'limits.0'],
    ] as const) {
      const res = await api.put(`/v1/workspaces/${ws}/rate-limits`, body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.error).toMatchObject({ type: 'invalid_request' })
      expect(String(res.body.error.param)).toContain(param)
    }
    expect((await api.get(`/v1/workspaces/${ws}/rate-limits`)).body.version).toBe(0)
    expect(await auditOf('rate_limits.updated', ws)).toHaveLength(0)

    // At the cap is fine; then the organization may not go below it.
    const ok = await api.put(`/v1/workspaces/${ws}/rate-limits`, {
      limits: [{ model: '*', requests_per_minute: 1000 }],
    })
    expect(ok.status, ok.text).toBe(200)
    const below = await api.put('/v1/rate-limits', {
      limits: [{ model: '*', requests_per_minute: 999 }],
    })
    expect(below.status).toBe(400)
    expect(below.body.error.param).toBe('limits.0.requests_per_minute')
    expect(below.body.error.message).toContain(ws)
    expect((await api.get('/v1/rate-limits')).body.limits[0].requests_per_minute).toBe(1000)
  })

  it('include_inherited=true reports every value in force with its source', async () => {
    const ws = (await api.create('/v1/workspaces', { name: 'Inherits' })).id
    await api.create(
      '/v1/rate-limits',
      {
        limits: [
          { model: '*', requests_per_minute: 1000, tokens_per_minute: 100_000 },
          { model: 'claude-opus-4', tokens_per_minute: 10_000 },
        ],
      },
      'PUT'
    )
    await api.create(
      `/v1/workspaces/${ws}/rate-limits`,
      {
        limits: [{ model: '*', requests_per_minute: 50 }],
      },
      'PUT'
    )
    const own = await api.get(`/v1/workspaces/${ws}/rate-limits`)
    expect(own.body.effective).toBeUndefined()
    const res = await api.get(`/v1/workspaces/${ws}/rate-limits?include_inherited=true`)
    expect(res.status, res.text).toBe(200)
    expect(res.body.effective).toEqual([
      {
        model: '*',
        limit_type: 'requests_per_minute',
        value: 50,
        source: 'workspace',
        organization_value: 1000,
      },
      {
        model: '*',
        limit_type: 'tokens_per_minute',
        value: 100_000,
        source: 'organization',
        organization_value: 100_000,
      },
      {
        model: 'claude-opus-4',
        limit_type: 'tokens_per_minute',
        value: 10_000,
        source: 'organization',
        organization_value: 10_000,
      },
    ])
    for (const query of ['include_inherited=yes', 'inherited=true']) {
      const bad = await api.get(`/v1/workspaces/${ws}/rate-limits?${query}`)
      expect(bad.status, query).toBe(400)
    }
  })

  it("another organization's workspace is not found, and nothing of it is changed", async () => {
    const other = await createOrg(h, 'Other')
    const theirs = (await as(h, other.adminKey).create('/v1/workspaces', { name: 'Theirs' })).id
    for (const res of [
      await api.get(`/v1/workspaces/${theirs}/rate-limits`),
      await api.put(`/v1/workspaces/${theirs}/rate-limits`, limits),
    ]) {
      expect(res.status).toBe(404)
      expect(res.body.error.type).toBe('not_found')
    }
    const mine = await as(h, other.adminKey).get(`/v1/workspaces/${theirs}/rate-limits`)
    expect(mine.body.version).toBe(0)
  })
})
