import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../functions/app/app.js'
import { Db, type Item, type Key } from '../functions/store/db.js'
import { decisionLog, MAX_PACK_BYTES } from '../functions/store/decision-log.js'
import { keys } from '../functions/store/keys.js'
import { as, type Caller, email, listAll } from './helpers/admin-model.js'
import { FaultyDb } from './helpers/faults.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { adminKeyWithRole, createServiceKey } from './helpers/usage.js'

/**
 * The decision log through HTTP: every /v1/authorize result (single and batch) carries a
 * decision_id whose record GET /v1/decisions/{id} returns; the list's filters, cursors and
 * strict query; organization admins only; tenant isolation; 30-day retention filtered on read;
 * sampling of allowed decisions; and how many store writes recording costs.
 */
let h: Harness
let svc: string
let org: Awaited<ReturnType<typeof createOrg>>
let other: Awaited<ReturnType<typeof createOrg>>
let api: Caller
let ws: string
let user: string
let batchWrites = 0

const DECISION_ID = /^dec_[0-9A-HJKMNP-TV-Z]{26}$/

/** Counts BatchWriteItem calls the app sends (the decision log's only write). */
function counting(doc: DynamoDBDocumentClient, tableName: string): Db {
  const counted = new Proxy(doc, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver)
      return (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
        if (command.constructor.name === 'BatchWriteItemCommand') batchWrites++
        return target.send(command)
      }
    },
  })
  return new Db(counted, tableName)
}

async function authorize(body: Record<string, unknown>, key = svc) {
  const res = await h.call('POST', '/v1/authorize', {
    key,
    body: { organization_id: org.id, resource: { type: 'Workspace', id: ws }, ...body },
  })
  expect(res.status).toBe(200)
  return res.body
}

beforeAll(async () => {
  h = await startHarness({ makeDb: counting })
  org = await createOrg(h)
  other = await createOrg(h, 'Other')
  api = as(h, org.adminKey)
  svc = await createServiceKey(h)
  ws = (await api.create('/v1/workspaces', { name: 'Product' })).id
  user = (
    await api.create('/v1/members', {
      email: email(),
      name: 'User',
      workspaces: [{ workspace_id: ws, roles: ['user'] }],
    })
  ).id
})
afterAll(() => h.close())

describe('recording', () => {
  it('gives every decision an id whose record holds the request, result, errors and revision', async () => {
    const allowed = await authorize({
      principal: { type: 'Member', id: user },
      action: 'use_chat',
      context: { model: 'claude-sonnet-4' },
    })
    expect(allowed.decision).toBe('allow')
    expect(allowed.decision_id).toMatch(DECISION_ID)
    const res = await api.get(`/v1/decisions/${allowed.decision_id}`)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      id: allowed.decision_id,
      object: 'decision',
      organization_id: org.id,
      decided_at: h.clock.now().toISOString(),
      caller: { type: 'service_key' },
      request: {
        principal: { type: 'Member', id: user },
        action: 'use_chat',
        resource: { type: 'Workspace', id: ws },
        context: { model: 'claude-sonnet-4' },
      },
      decision: 'allow',
      determining_policies: allowed.determining_policies,
      errors: [],
    })
    // The revision it was made at: the organization's current one (no change since).
    expect(res.body.revision.revision).toBeGreaterThan(0)
    expect(res.body.revision.policy_revision).toBe(0)

    const unknown = await authorize({
      principal: { type: 'Member', id: 'mem_01JD4V6S9Y3T2WQ7P1J5KX8N0M' },
      action: 'use_chat',
    })
    const denied = await api.get(`/v1/decisions/${unknown.decision_id}`)
    expect(denied.body.decision).toBe('deny')
    expect(denied.body.errors).toEqual(unknown.errors)
    expect(denied.body.errors[0].code).toBe('unknown_principal')
  })

  it('records every result of a batch, malformed items included, each with its own id', async () => {
    const res = await h.call('POST', '/v1/authorize/batch', {
      key: org.adminKey,
      body: {
        organization_id: org.id,
        requests: [
          {
            principal: { type: 'Member', id: user },
            action: 'use_chat',
            resource: { type: 'Workspace', id: ws },
          },
          { principal: { type: 'Member', id: user }, action: 'fly', resource: { type: 'x' } },
          {
            principal: { type: 'Member', id: user },
            action: 'use_studio',
            resource: { type: 'Workspace', id: ws },
          },
        ],
      },
    })
    expect(res.status).toBe(200)
    const ids = res.body.results.map((r: { decision_id: string }) => r.decision_id)
    expect(new Set(ids).size).toBe(3)
    const records = await Promise.all(ids.map((id: string) => api.get(`/v1/decisions/${id}`)))
    expect(records.map((r) => r.body.decision)).toEqual(['allow', 'deny', 'deny'])
    expect(records[0]!.body.caller).toEqual({ type: 'admin_key', id: org.adminKeyId })
    // The malformed item is recorded as sent, with the problem that denied it.
    expect(records[1]!.body.request).toEqual({
      principal: { type: 'Member', id: user },
      action: 'fly',
      resource: null,
      context: null,
    })
    expect(records[1]!.body.errors[0].code).toBe('invalid_request')
  })

  it('writes at most one store call per request: a batch of 100 is one item', async () => {
    const requests = Array.from({ length: 100 }, (_, i) => ({
      principal: { type: 'Member', id: user },
      action: i % 2 ? 'use_chat' : 'use_code',
      resource: { type: 'Workspace', id: ws },
    }))
    await api.get('/v1/decisions?limit=1') // writes anything still buffered
    const before = batchWrites
    const res = await h.call('POST', '/v1/authorize/batch', {
      key: svc,
      body: { organization_id: org.id, requests },
    })
    expect(res.status).toBe(200)
    await api.get('/v1/decisions?limit=1')
    expect(batchWrites - before).toBe(1)
    // Each of the 100 is found by its id, and listed newest first (pages cut inside the item).
    const ids = res.body.results.map((r: { decision_id: string }) => r.decision_id) as string[]
    const fetched = await Promise.all(ids.map((id) => api.get(`/v1/decisions/${id}`)))
    expect(fetched.map((r) => r.body.id)).toEqual(ids)
    expect(fetched.map((r) => r.body.request.action)).toEqual(requests.map((r) => r.action))
    const listed = await listAll<{ id: string }>(api, `/v1/decisions?principal_id=${user}`, 7)
    expect(listed.slice(0, 100).map((d) => d.id)).toEqual([...ids].reverse())
    // Ten single decisions: never more than one write each (buffered together when close).
    const afterBatch = batchWrites
    for (let i = 0; i < 10; i++) {
      await authorize({ principal: { type: 'Member', id: user }, action: 'use_chat' })
    }
    await api.get('/v1/decisions?limit=1')
    expect(batchWrites - afterBatch).toBeGreaterThanOrEqual(1)
    expect(batchWrites - afterBatch).toBeLessThanOrEqual(10)
  })
})

describe('a request whose records pass one item', () => {
  it('spans several items of one write, each record found and listed in order', async () => {
    // 100 decisions with 4 KB of context each: more than MAX_PACK_BYTES of records.
    const note = 'x'.repeat(4096)
    const requests = Array.from({ length: 100 }, (_, i) => ({
      principal: { type: 'Member', id: user },
      action: 'use_chat',
      resource: { type: 'Workspace', id: ws },
      context: { note, i },
    }))
    expect(100 * note.length).toBeGreaterThan(MAX_PACK_BYTES)
    await api.get('/v1/decisions?limit=1')
    const before = batchWrites
    const res = await h.call('POST', '/v1/authorize/batch', {
      key: svc,
      body: { organization_id: org.id, requests },
    })
    expect(res.status).toBe(200)
    const ids = res.body.results.map((r: { decision_id: string }) => r.decision_id) as string[]
    const newest = await api.get('/v1/decisions?limit=100')
    expect(batchWrites - before).toBe(1)
    expect(newest.body.data.map((d: { id: string }) => d.id)).toEqual([...ids].reverse())
    for (const i of [0, 49, 50, 99]) {
      const one = await api.get(`/v1/decisions/${ids[i]}`)
      expect(one.status).toBe(200)
      expect(one.body.request.context).toEqual({ note, i })
    }
  })
})

describe('listing', () => {
  let mark: string
  beforeAll(async () => {
    h.clock.advance(60_000)
    mark = h.clock.now().toISOString()
    for (const action of ['use_chat', 'use_studio', 'use_chat']) {
      await authorize({ principal: { type: 'Member', id: user }, action })
      h.clock.advance(1000)
    }
  })

  it('filters by principal, action, decision, workspace and time, newest first', async () => {
    const since = await listAll(api, `/v1/decisions?after_time=${mark}`)
    expect(since.map((d) => (d.request as { action: string }).action)).toEqual([
      'use_chat',
      'use_studio',
      'use_chat',
    ])
    const chats = await listAll(api, `/v1/decisions?after_time=${mark}&action=use_chat`)
    expect(chats).toHaveLength(2)
    const denies = await listAll(api, `/v1/decisions?after_time=${mark}&decision=deny`)
    expect(denies.map((d) => (d.request as { action: string }).action)).toEqual(['use_studio'])
    const byPrincipal = await listAll(api, `/v1/decisions?principal_id=${user}&workspace_id=${ws}`)
    expect(byPrincipal.length).toBeGreaterThanOrEqual(3)
    expect(
      byPrincipal.every((d) => (d.request as { principal: { id: string } }).principal.id === user)
    ).toBe(true)
    const before = await listAll(api, `/v1/decisions?before_time=${mark}&after_time=${mark}`)
    expect(before).toEqual([])
    const elsewhere = await listAll(api, `/v1/decisions?workspace_id=${org.defaultWorkspaceId}`)
    expect(elsewhere).toEqual([])
  })

  it('pages with sealed cursors bound to the filters, and refuses unknown parameters', async () => {
    const first = await api.get(`/v1/decisions?after_time=${mark}&limit=2`)
    expect(first.body).toMatchObject({ object: 'list', has_more: true })
    expect(first.body.data).toHaveLength(2)
    const second = await api.get(
      `/v1/decisions?after_time=${mark}&limit=2&after=${first.body.next_cursor}`
    )
    expect(second.body).toMatchObject({ has_more: false, next_cursor: null })
    expect(second.body.data).toHaveLength(1)
    const otherFilter = await api.get(
      `/v1/decisions?action=use_chat&limit=2&after=${first.body.next_cursor}`
    )
    expect(otherFilter.status).toBe(400)
    expect(otherFilter.body.error).toMatchObject({ type: 'invalid_request', param: 'after' })
    const unknown = await api.get('/v1/decisions?principal=someone')
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toMatchObject({ type: 'invalid_request', param: 'principal' })
    const badDecision = await api.get('/v1/decisions?decision=maybe')
    expect(badDecision.status).toBe(400)
  })
})

describe('who may read it', () => {
  it('organization admins only: billing managers and members get 403', async () => {
    for (const role of ['billing_manager', 'member']) {
      const key = await adminKeyWithRole(h, org.adminKey, role)
      const list = await h.call('GET', '/v1/decisions', { key })
      expect(list.status).toBe(403)
      expect(list.body.error.type).toBe('permission')
    }
    expect((await h.call('GET', '/v1/decisions', { key: svc })).status).toBe(403)
  })

  it("never shows one organization's decisions to another", async () => {
    const mine = await authorize({ principal: { type: 'Member', id: user }, action: 'use_chat' })
    const theirs = as(h, other.adminKey)
    const res = await theirs.get(`/v1/decisions/${mine.decision_id}`)
    expect(res.status).toBe(404)
    expect(res.body.error.type).toBe('not_found')
    expect(await listAll(theirs, '/v1/decisions')).toEqual([])
    expect((await theirs.get('/v1/decisions/dec_nope')).status).toBe(404)
  })
})

describe('retention and sampling', () => {
  it('keeps a decision 30 days: after that it is neither listed nor found', async () => {
    const made = await authorize({ principal: { type: 'Member', id: user }, action: 'use_chat' })
    expect((await api.get(`/v1/decisions/${made.decision_id}`)).status).toBe(200)
    h.clock.advance(29 * 86_400_000)
    expect((await api.get(`/v1/decisions/${made.decision_id}`)).status).toBe(200)
    h.clock.advance(1 * 86_400_000 + 1000)
    expect((await api.get(`/v1/decisions/${made.decision_id}`)).status).toBe(404)
    const listed = await listAll(api, '/v1/decisions')
    expect(listed.some((d) => d.id === made.decision_id)).toBe(false)
  })

  it('a sample rate of 0 keeps no allowed decision and every deny', async () => {
    const patched = await api.patch('/v1/organization', {
      settings: { decision_log_sample_rate: 0 },
    })
    expect(patched.status).toBe(200)
    expect(patched.body.settings.decision_log_sample_rate).toBe(0)
    const allowed = await authorize({ principal: { type: 'Member', id: user }, action: 'use_chat' })
    const denied = await authorize({ principal: { type: 'Member', id: user }, action: 'use_code' })
    expect(allowed.decision).toBe('allow')
    expect(allowed.decision_id).toMatch(DECISION_ID)
    expect((await api.get(`/v1/decisions/${allowed.decision_id}`)).status).toBe(404)
    expect((await api.get(`/v1/decisions/${denied.decision_id}`)).status).toBe(200)
    const bad = await api.patch('/v1/organization', { settings: { decision_log_sample_rate: 2 } })
    expect(bad.status).toBe(400)
    await api.patch('/v1/organization', { settings: { decision_log_sample_rate: 1 } })
    const again = await authorize({ principal: { type: 'Member', id: user }, action: 'use_chat' })
    expect((await api.get(`/v1/decisions/${again.decision_id}`)).status).toBe(200)
  })
})

describe('when records are written', () => {
  it('background: after the response; before-response (Lambda): before it', async () => {
    const body = {
      organization_id: org.id,
      principal: { type: 'Member', id: user },
      action: 'use_chat',
      resource: { type: 'Workspace', id: ws },
    }
    const send = async (app: ReturnType<typeof createApp>) => {
      const res = await app.request('/v1/authorize', {
        method: 'POST',
        headers: { authorization: `Bearer ${svc}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      return ((await res.json()) as { decision_id: string }).decision_id
    }
    const deps = { db: h.db, clock: h.clock, operatorKey: h.operatorKey }
    const lambda = createApp({ ...deps, decisionLogOptions: { mode: 'before-response' } })
    const written = await send(lambda)
    expect(await decisionLog.get(h.db, org.id, written, h.clock.now())).toBeDefined()
    const server = createApp({ ...deps, decisionLogOptions: { flushMs: 60_000 } })
    const buffered = await send(server)
    expect(await decisionLog.get(h.db, org.id, buffered, h.clock.now())).toBeUndefined()
    // A read through that app writes what it buffers first.
    const read = await server.request(`/v1/decisions/${buffered}`, {
      headers: { authorization: `Bearer ${org.adminKey}` },
    })
    expect(read.status).toBe(200)
  })

  it('a failed write loses the record, never the decision', async () => {
    const faulty = new FaultyDb(h.db.doc, h.db.tableName)
    const lambda = createApp({
      db: faulty,
      clock: h.clock,
      operatorKey: h.operatorKey,
      decisionLogOptions: { mode: 'before-response' },
    })
    const ask = async () => {
      const res = await lambda.request('/v1/authorize', {
        method: 'POST',
        headers: { authorization: `Bearer ${svc}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          organization_id: org.id,
          principal: { type: 'Member', id: user },
          action: 'use_chat',
          resource: { type: 'Workspace', id: ws },
        }),
      })
      expect(res.status).toBe(200)
      return (await res.json()) as { decision: string; decision_id: string }
    }
    faulty.arm({ op: 'batchWrite', sk: /^DEC#/ })
    const lost = await ask()
    expect(lost.decision).toBe('allow')
    expect(faulty.pending()).toBe(0)
    expect(await decisionLog.get(h.db, org.id, lost.decision_id, h.clock.now())).toBeUndefined()
    const kept = await ask()
    expect(await decisionLog.get(h.db, org.id, kept.decision_id, h.clock.now())).toBeDefined()
  })

  it('a store slower than the decisions holds decisions back, within the buffer bound', async () => {
    // The decision log's writes wait until the test lets them go.
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let written = 0
    class HeldDb extends Db {
      override async batchWrite(puts: Item[], deletes: Key[] = [], concurrency = 1) {
        if (!puts.some((item) => String(item.SK).startsWith(keys.decisionRecordPrefix))) {
          return super.batchWrite(puts, deletes, concurrency)
        }
        await held
        await super.batchWrite(puts, deletes, concurrency)
        written += puts.reduce(
          (sum, item) => sum + (JSON.parse(item.body as string) as []).length,
          0
        )
      }
    }
    const maxBuffered = 50
    const server = createApp({
      db: new HeldDb(h.db.doc, h.db.tableName),
      clock: h.clock,
      operatorKey: h.operatorKey,
      decisionLogOptions: { maxBuffered },
    })
    // Denies are always kept: 8 requests of 25 decisions each, 200 records.
    const stranger = (await api.create('/v1/members', { email: email(), name: 'No roles' }))
      .id as string
    const requests = Array.from({ length: 25 }, () => ({
      principal: { type: 'Member', id: stranger },
      action: 'use_chat',
      resource: { type: 'Workspace', id: ws },
    }))
    let answered = 0
    const sent = Array.from({ length: 8 }, async () => {
      const res = await server.request('/v1/authorize/batch', {
        method: 'POST',
        headers: { authorization: `Bearer ${svc}`, 'content-type': 'application/json' },
        body: JSON.stringify({ organization_id: org.id, requests }),
      })
      answered++
      expect(res.status).toBe(200)
      const body = (await res.json()) as { results: { decision: string; decision_id: string }[] }
      expect(body.results.every((result) => result.decision === 'deny')).toBe(true)
      return body.results.map((result) => result.decision_id)
    })
    // Without backpressure every request is answered at once, its records piling up in memory.
    for (let waited = 0; waited < 1_500 && answered < 8; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(written).toBe(0)
    // Answered: only while at most `maxBuffered` records wait (25 and 50 of them).
    expect(answered).toBeLessThanOrEqual(maxBuffered / 25)
    release()
    const ids = (await Promise.all(sent)).flat()
    expect(answered).toBe(8)
    const read = await server.request(`/v1/decisions/${ids.at(-1)}`, {
      headers: { authorization: `Bearer ${org.adminKey}` },
    })
    expect(read.status).toBe(200)
    expect(written).toBe(200)
    expect(new Set(ids).size).toBe(200)
  })
})
