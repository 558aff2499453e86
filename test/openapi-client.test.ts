import { parse } from 'csv-parse/sync'
import createClient from 'openapi-fetch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { components, paths } from '../console/src/api.gen.js'
import { type Harness, startHarness } from './helpers/harness.js'

/**
 * A client generated from `GET /openapi.json` (openapi-typescript, console/src/api.gen.ts, kept fresh by test/api-types.test.ts) and
 * driven with openapi-fetch through the whole product flow, without a cast: if the document
 * types a request or a response wrongly, this file does not type-check (npm run typecheck) or a
 * response fails the harness's check against the document.
 */
let h: Harness

beforeAll(async () => {
  h = await startHarness()
})
afterAll(() => h.close())

/** A client that sends `secret` as its bearer credential, through the app (and its checks). */
function clientFor(secret: string) {
  // JSON is the media type the client reads (the reports also answer text/csv, read as text).
  return createClient<paths, 'application/json'>({
    baseUrl: 'http://localhost',
    headers: { authorization: `Bearer ${secret}` },
    fetch: async (request: Request) => h.app.request(request),
  })
}

describe('the generated client', () => {
  it('runs the flow: organization → … → decision → usage → spend limit → aggregation → reports', async () => {
    const operator = clientFor(h.operatorKey)

    const created = await operator.POST('/v1/organizations', { body: { name: 'Typed Inc' } })
    expect(created.response.status).toBe(201)
    const orgBody = created.data!
    const admin = clientFor(orgBody.admin_key.secret)
    const orgId = orgBody.organization.id

    const ws = await admin.POST('/v1/workspaces', { body: { name: 'Studio' } })
    expect(ws.response.status).toBe(201)
    const workspaceId = ws.data!.id
    expect(ws.response.headers.get('etag')).toBe(`"${ws.data!.version}"`)

    const member = await admin.POST('/v1/members', {
      body: { email: 'ada@example.com', name: 'Ada' },
    })
    expect(member.response.status).toBe(201)
    const memberId = member.data!.id

    const group = await admin.POST('/v1/groups', { body: { name: 'Developers' } })
    expect(group.response.status).toBe(201)
    // null survives the document: org_role is `OrgRole | null`, not an enum that forbids it.
    const orgRole: components['schemas']['OrgRole'] | null = group.data!.org_role
    expect(orgRole).toBeNull()
    const groupId = group.data!.id

    const joined = await admin.PUT('/v1/groups/{id}/members/{member_id}', {
      params: { path: { id: groupId, member_id: memberId } },
    })
    expect(joined.response.status).toBe(201)

    const grant = await admin.PUT('/v1/workspaces/{id}/access/groups/{group_id}', {
      params: { path: { id: workspaceId, group_id: groupId } },
      body: { roles: ['dev'] },
    })
    expect(grant.response.status).toBe(201)

    const access = await admin.GET('/v1/members/{id}/effective-access', {
      params: { path: { id: memberId } },
    })
    expect(access.response.status).toBe(200)

    const serviceKey = await operator.POST('/v1/service-keys', { body: { name: 'studio' } })
    expect(serviceKey.response.status).toBe(201)
    const service = clientFor(serviceKey.data!.secret)

    const decision = await service.POST('/v1/authorize', {
      body: {
        organization_id: orgId,
        principal: { type: 'Member', id: memberId },
        action: 'use_studio',
        resource: { type: 'Workspace', id: workspaceId },
      },
    })
    expect(decision.response.status).toBe(200)
    expect(decision.data!.decision).toBe('allow')

    // Typed events: the body references UsageEvent, so a wrong field would not compile.
    const events: components['schemas']['UsageEvent'][] = [1, 2, 3].map((i) => ({
      id: `typed-${i}`,
      organization_id: orgId,
      workspace_id: workspaceId,
      timestamp: new Date(h.clock.now().getTime() - i * 3_600_000).toISOString(),
      product: 'studio',
      model: 'claude-sonnet-4',
      member_id: memberId,
      input_tokens: 1_000_000 * i,
      output_tokens: 100_000 * i,
    }))
    const ingested = await service.POST('/v1/usage/events', {
      body: { events },
      params: { header: { 'idempotency-key': 'typed-batch-1' } },
    })
    expect(ingested.data).toEqual({ accepted: 3, duplicates: 0, rejected: [] })
    const replay = await service.POST('/v1/usage/events', {
      body: { events },
      params: { header: { 'idempotency-key': 'typed-batch-1' } },
    })
    expect(replay.response.headers.get('idempotent-replayed')).toBe('true')
    expect(replay.data).toEqual(ingested.data)

    const limit = await admin.PUT('/v1/workspaces/{id}/spend-limit', {
      params: { path: { id: workspaceId } },
      body: { monthly_limit: '500.00', enforcement: 'hard' },
    })
    expect(limit.response.status).toBe(200)
    expect(limit.data!.monthly_limit).toBe('500.000000')

    const run = await operator.POST('/v1/jobs/aggregate')
    expect(run.response.status).toBe(200)
    expect(run.data!.events_aggregated).toBe(3)

    const starting_at = new Date(h.clock.now().getTime() - 86_400_000).toISOString()
    const usage = await admin.GET('/v1/usage', {
      params: { query: { starting_at, bucket_width: '1d', group_by: 'workspace_id' } },
    })
    expect(usage.response.status).toBe(200)
    const usageResults = usage.data!.data.flatMap((bucket) => bucket.results)
    expect(usageResults).toEqual([
      expect.objectContaining({
        workspace_id: workspaceId,
        input_tokens: 6_000_000,
        output_tokens: 600_000,
        requests: 3,
      }),
    ])

    const costs = await admin.GET('/v1/costs', {
      params: { query: { starting_at, bucket_width: '1d', group_by: ['workspace_id'] } },
    })
    expect(costs.response.status).toBe(200)
    const jsonCosts = costs.data!.data.flatMap((bucket) =>
      bucket.results.map((result) => ({ starting_at: bucket.starting_at, cost: result.cost }))
    )
    expect(jsonCosts).toHaveLength(1)
    expect(jsonCosts[0]!.cost).toMatch(/^\d+\.\d{6}$/)

    // CSV, asked for both ways: format=csv, and Accept: text/csv (equivalent).
    for (const ask of [
      { params: { query: { starting_at, group_by: 'workspace_id', format: 'csv' as const } } },
      {
        params: { query: { starting_at, group_by: 'workspace_id' } },
        headers: { accept: 'text/csv' },
      },
    ]) {
      const csv = await admin.GET('/v1/costs', { ...ask, parseAs: 'text' })
      expect(csv.response.status).toBe(200)
      expect(csv.response.headers.get('content-type')).toMatch(/^text\/csv/)
      const rows: Record<string, string>[] = parse(csv.data!, { columns: true })
      expect(
        rows
          .filter((row) => row.cost !== '0.000000')
          // CSV times are RFC 3339 without fractions; the same instants as the JSON's.
          .map((row) => ({
            starting_at: new Date(row.starting_at ?? '').toISOString(),
            cost: row.cost,
          }))
      ).toEqual(jsonCosts)
    }
  })
})
