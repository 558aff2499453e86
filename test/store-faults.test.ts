/**
 * Store fault injection: with 10 % of DynamoDB calls failing (throttling, 5xx, timeouts — some
 * after the write was applied) during ingestion, aggregation, seat changes and member removals,
 * clients that retry end with exact usage totals and intact invariants, and every failure the
 * client sees is a 503 `unavailable` with `Retry-After` in the contract's shape (never a 500).
 * Seeded: set STORE_FAULT_SEED to replay a run; the seed is printed on failure.
 */
import { BatchGetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Db } from '../functions/store/db.js'
import { seats } from '../functions/store/seats.js'
import {
  type ApiResponse,
  type CallOptions,
  createOrg,
  type Harness,
  startHarness,
} from './helpers/harness.js'
import { StoreFaults, seededRandom } from './helpers/store-faults.js'
import { createServiceKey, usageEvent } from './helpers/usage.js'

const SEED = Number(process.env.STORE_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31))
const FAULT_RATE = 0.1
const MINUTE = 60_000

const faults = new StoreFaults(seededRandom(SEED), FAULT_RATE)
let h: Harness

beforeAll(async () => {
  h = await startHarness({ makeDb: (doc, table) => new Db(faults.wrap(doc), table) })
})
afterAll(() => h.close())

/** What the retrying client saw. */
const seen = { unavailable: 0, internal: [] as string[], waits: 0 }

/**
 * A client that retries 503 and 500 at once (the test's clock does not need to move for them),
 * and a 409 that says the work is in progress elsewhere after waiting: `Retry-After` if given,
 * else the 60-s lease of a change that failed half-way.
 */
async function retried(method: string, path: string, options: CallOptions = {}) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const res: ApiResponse = await h.call(method, path, options)
    if (res.status === 503) {
      seen.unavailable++
      expect(res.body.error).toMatchObject({ type: 'unavailable', param: null })
      expect(typeof res.body.error.message).toBe('string')
      expect(res.body.error.request_id).toBe(res.headers.get('x-request-id'))
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      continue
    }
    if (res.status === 500) {
      seen.internal.push(`${method} ${path}: ${res.text}`)
      continue
    }
    if (res.status === 409 && /in progress|retry shortly|busy/i.test(res.body.error.message)) {
      const retryAfter = Number(res.headers.get('retry-after') ?? 61)
      h.clock.advance(retryAfter * 1000)
      seen.waits++
      continue
    }
    return res
  }
  throw new Error(`${method} ${path}: still failing after 100 attempts`)
}

it('keeps totals exact and invariants intact with 10 % of store calls failing', async () => {
  try {
    await scenario()
  } catch (error) {
    console.error(`store-faults: failed with STORE_FAULT_SEED=${SEED}`)
    throw error
  }
}, 60_000)

it('answers 503 in the right shape with Retry-After on admin, service and SCIM routes', async () => {
  const org = await createOrg(h, 'Down')
  const svc = await createServiceKey(h, 'down')
  const token = await h.call('POST', '/v1/scim-tokens', {
    key: org.adminKey,
    body: { name: 'idp' },
  })
  expect(token.status).toBe(201)
  // Every Query and BatchGetItem fails (throttled, 5xx or timed out); key lookups still work.
  faults.rate = 1
  faults.only = (command) => command instanceof QueryCommand || command instanceof BatchGetCommand
  faults.enabled = true
  try {
    const admin = await h.call('GET', '/v1/members', { key: org.adminKey })
    const ingest = await h.call('POST', '/v1/usage/events', {
      key: svc,
      body: {
        events: [
          usageEvent({
            id: 'down-1',
            organization_id: org.id,
            workspace_id: org.defaultWorkspaceId,
            timestamp: h.clock.now().toISOString(),
          }),
        ],
      },
    })
    for (const res of [admin, ingest]) {
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('5')
      expect(res.body).toEqual({
        error: {
          type: 'unavailable',
          message: expect.any(String),
          param: null,
          request_id: res.headers.get('x-request-id'),
        },
      })
    }
    const scim = await h.call('GET', '/scim/v2/Users', { key: token.body.secret })
    expect(scim.status).toBe(503)
    expect(scim.headers.get('retry-after')).toBe('5')
    expect(scim.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '503',
      detail: expect.any(String),
    })
  } finally {
    faults.enabled = false
    faults.only = undefined
  }
  // Nothing was written by the failed ingestion.
  faults.rate = FAULT_RATE
  const again = await h.call('POST', '/v1/usage/events', {
    key: svc,
    body: {
      events: [
        usageEvent({
          id: 'down-1',
          organization_id: org.id,
          workspace_id: org.defaultWorkspaceId,
          timestamp: h.clock.now().toISOString(),
        }),
      ],
    },
  })
  expect(again.body).toMatchObject({ accepted: 1, duplicates: 0 })
})

async function scenario() {
  // ----- Setup, without faults -----
  const svc = await createServiceKey(h)
  const org = await createOrg(h, 'Faulty')
  const admin = { key: org.adminKey }
  const ws = org.defaultWorkspaceId
  const memberIds: string[] = []
  const keyIds: string[] = []
  for (let i = 0; i < 7; i++) {
    const member = await h.call('POST', '/v1/members', {
      ...admin,
      body: { email: `f${i}@example.com`, name: `F ${i}` },
    })
    expect(member.status).toBe(201)
    memberIds.push(member.body.id)
    const key = await h.call('POST', '/v1/api-keys', {
      ...admin,
      body: { name: `k${i}`, workspace_id: ws, member_id: member.body.id },
    })
    expect(key.status).toBe(201)
    keyIds.push(key.body.id)
  }
  const purchased = await h.call('PUT', '/v1/seats/chat', { ...admin, body: { purchased: 4 } })
  expect(purchased.status).toBe(200)
  const base = h.clock.now().getTime()

  faults.enabled = true

  // ----- Ingestion and aggregation under faults -----
  const random = seededRandom(SEED ^ 0x5eed)
  const distinct = new Map<string, number>() // id → input tokens
  const aggregate = async () => {
    const res = await retried('POST', '/v1/jobs/aggregate', { key: h.operatorKey })
    expect(res.status).toBe(200)
    return res.body
  }
  for (let batch = 0; batch < 12; batch++) {
    const events = Array.from({ length: 40 }, () => {
      const n = Math.floor(random() * 300) // ids repeat across and within batches
      const member = n % 7
      return usageEvent({
        id: `ev-${n}`,
        organization_id: org.id,
        workspace_id: ws,
        timestamp: new Date(base - (n % 90) * MINUTE).toISOString(),
        api_key_id: n % 2 ? keyIds[member]! : null,
        member_id: n % 3 ? memberIds[member]! : null,
        input_tokens: 1000 + n,
      })
    })
    const res = await retried('POST', '/v1/usage/events', {
      key: svc,
      body: { events },
    })
    expect(res.status).toBe(200)
    expect(res.body.rejected).toEqual([])
    expect(res.body.accepted + res.body.duplicates).toBe(events.length)
    for (const event of events) distinct.set(event.id as string, event.input_tokens as number)
    if (batch % 3 === 2) await aggregate()
  }

  // ----- Seats and member removal under faults -----
  const seatsNow = async () => {
    const res = await retried('GET', '/v1/seats', admin)
    expect(res.status).toBe(200)
    const chat = res.body.data.find((pool: { product: string }) => pool.product === 'chat')
    // Never more assigned than bought, whatever failed half-way.
    expect(chat.assigned).toBeLessThanOrEqual(chat.purchased)
    return chat
  }
  const assign = async (i: number) => {
    const res = await retried('PUT', `/v1/members/${memberIds[i]}/seats/chat`, admin)
    await seatsNow()
    return res.status
  }
  // 200 instead of 201 only when an earlier attempt assigned it and lost the answer.
  for (const i of [0, 1, 2, 3]) expect([200, 201]).toContain(await assign(i))
  for (const i of [4, 5, 6]) {
    const res = await retried('PUT', `/v1/members/${memberIds[i]}/seats/chat`, admin)
    expect(res.status).toBe(409)
    expect(res.body.error.message).toMatch(/No chat seat is free/)
  }
  const released = await retried('DELETE', `/v1/members/${memberIds[1]}/seats/chat`, admin)
  // 404 only when an earlier attempt released it and lost the answer.
  expect([200, 404]).toContain(released.status)
  expect([200, 201]).toContain(await assign(5))
  const removed = [memberIds[0]!, memberIds[5]!]
  for (const id of removed) {
    const res = await retried('DELETE', `/v1/members/${id}`, admin)
    expect([200, 404]).toContain(res.status)
  }
  await aggregate()
  await aggregate()

  // ----- Checks, without faults -----
  faults.enabled = false
  const last = await h.call('POST', '/v1/jobs/aggregate', { key: h.operatorKey })
  expect(last.status).toBe(200)
  expect(last.body.events_aggregated).toBe(0)
  expect(seen.internal).toEqual([])
  expect(seen.unavailable).toBeGreaterThan(10)
  expect(faults.injected.timeout_after_write).toBeGreaterThan(0)

  // Usage: the sum of the distinct events, counted once.
  const usage = await h.call(
    'GET',
    `/v1/usage?starting_at=${new Date(base - 3 * 60 * MINUTE).toISOString()}&bucket_width=1d`,
    admin
  )
  expect(usage.status).toBe(200)
  const rows = usage.body.data.flatMap(
    (bucket: { results: { requests: number; input_tokens: number }[] }) => bucket.results
  )
  expect(rows.reduce((sum: number, r: { requests: number }) => sum + r.requests, 0)).toBe(
    distinct.size
  )
  expect(rows.reduce((sum: number, r: { input_tokens: number }) => sum + r.input_tokens, 0)).toBe(
    [...distinct.values()].reduce((sum, tokens) => sum + tokens, 0)
  )
  // The month totals the budgets use agree with the daily ones.
  const costs = await h.call(
    'GET',
    `/v1/costs?starting_at=${new Date(base - 3 * 60 * MINUTE).toISOString()}&bucket_width=1d`,
    admin
  )
  const costMicros = costs.body.data
    .flatMap((bucket: { results: { amount: { value: string } }[] }) => bucket.results)
    .reduce(
      (sum: number, r: { amount?: { value: string }; cost?: string }) =>
        sum + Math.round(Number(r.amount?.value ?? r.cost) * 1_000_000),
      0
    )
  const budgets = await h.call('GET', '/v1/budgets', admin)
  const orgBudget = budgets.body.data.find((b: { workspace_id: string | null }) => !b.workspace_id)
  expect(Math.round(Number(orgBudget.spend) * 1_000_000)).toBe(costMicros)

  // Seats: members 2, 3 (never released) keep theirs; 0 and 5 were removed, 1 released.
  const pool = await seats.pool(h.db, org.id, 'chat')
  const holders: string[] = []
  for (const id of memberIds) {
    if (await seats.assignment(h.db, org.id, 'chat', id)) holders.push(id)
  }
  expect(holders).toEqual([memberIds[2], memberIds[3]])
  expect(pool.pool).toMatchObject({ purchased: 4, assigned: holders.length })
  expect(pool.markers).toEqual({})

  // Removed members are gone: no record, not listed, keys revoked, grants gone, email free.
  const listed = await h.call('GET', '/v1/members?limit=100', admin)
  const listedIds = listed.body.data.map((m: { id: string }) => m.id)
  expect(listedIds).toEqual(expect.arrayContaining([memberIds[1], memberIds[2], memberIds[3]]))
  const access = await h.call('GET', `/v1/workspaces/${ws}/access?limit=100`, admin)
  expect(access.status).toBe(200)
  const grantees = JSON.stringify(access.body.data)
  for (const [n, id] of [0, 5].map((i) => [i, memberIds[i]!] as const)) {
    expect(listedIds).not.toContain(id)
    expect((await h.call('GET', `/v1/members/${id}`, admin)).status).toBe(404)
    expect(grantees).not.toContain(id)
    const key = await h.call('GET', `/v1/api-keys/${keyIds[n]}`, admin)
    expect(key.body.status).toBe('revoked')
    const again = await h.call('POST', '/v1/members', {
      ...admin,
      body: { email: `f${n}@example.com`, name: 'Again' },
    })
    expect(again.status).toBe(201)
  }
}
