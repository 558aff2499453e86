/**
 * The warm hot path (issue 12): a principal, key and organization seen in the last second are
 * decided with no store request at all, liveness reads nothing, and a revoked credential stops
 * working at once on the instance that revoked it and within a second on any other.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../functions/app/app.js'
import { Db } from '../functions/store/db.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/** Every command the app sends to the table, by name. */
const sent: string[] = []

function counting(doc: DynamoDBDocumentClient): DynamoDBDocumentClient {
  return new Proxy(doc, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver)
      return (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
        sent.push(command.constructor.name)
        return target.send(command)
      }
    },
  })
}

/** The store commands `run` caused. */
/**
 * The store requests `run` makes, besides the decision log's: its records are written in
 * batches of 25 after the responses (docs/decision-log.md; test/decision-log.test.ts counts
 * those), so its BatchWriteItem calls are no read of the decision path.
 */
async function commandsOf(run: () => Promise<unknown>): Promise<string[]> {
  const from = sent.length
  await run()
  return sent.slice(from).filter((name) => name !== 'BatchWriteItemCommand')
}

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let member: string

beforeAll(async () => {
  h = await startHarness({ makeDb: (doc, table) => new Db(counting(doc), table) })
  org = await createOrg(h)
  const created = await h.call('POST', '/v1/members', {
    key: org.adminKey,
    body: { email: 'hot@example.com', name: 'Hot' },
  })
  expect(created.status).toBe(201)
  member = created.body.id
  const granted = await h.call(
    'PUT',
    `/v1/workspaces/${org.defaultWorkspaceId}/access/members/${member}`,
    { key: org.adminKey, body: { roles: ['dev'] } }
  )
  expect(granted.status).toBe(200)
})
afterAll(() => h.close())

async function newServiceKey(): Promise<{ id: string; secret: string }> {
  const res = await h.call('POST', '/v1/service-keys', { key: h.operatorKey, body: { name: 'p' } })
  expect(res.status).toBe(201)
  return { id: res.body.id, secret: res.body.secret }
}

const decisionBody = (action = 'use_studio') => ({
  organization_id: org.id,
  principal: { type: 'Member', id: member },
  action,
  resource: { type: 'Workspace', id: org.defaultWorkspaceId },
})

describe('warm decisions', () => {
  it('make no store request for a key, principal and organization seen just now', async () => {
    const svc = await newServiceKey()
    const ask = () => h.call('POST', '/v1/authorize', { key: svc.secret, body: decisionBody() })
    expect((await ask()).body.decision).toBe('allow')
    const warm = await commandsOf(async () => {
      for (let i = 0; i < 20; i++) expect((await ask()).body.decision).toBe('allow')
      const batch = await h.call('POST', '/v1/authorize/batch', {
        key: svc.secret,
        body: {
          organization_id: org.id,
          requests: Array.from({ length: 100 }, () => {
            const { organization_id: _, ...request } = decisionBody()
            return request
          }),
        },
      })
      expect(batch.status).toBe(200)
      expect(batch.body.results).toHaveLength(100)
    })
    expect(warm).toEqual([])
  })

  it('make no store request when an admin key asks about its own organization', async () => {
    const ask = () => h.call('POST', '/v1/authorize', { key: org.adminKey, body: decisionBody() })
    expect((await ask()).status).toBe(200)
    expect(await commandsOf(ask)).toEqual([])
  })

  it('still read a principal they have not seen', async () => {
    const svc = await newServiceKey()
    await h.call('POST', '/v1/authorize', { key: svc.secret, body: decisionBody() })
    const other = await h.call('POST', '/v1/members', {
      key: org.adminKey,
      body: { email: 'cold@example.com', name: 'Cold' },
    })
    const cold = await commandsOf(() =>
      h.call('POST', '/v1/authorize', {
        key: svc.secret,
        body: { ...decisionBody(), principal: { type: 'Member', id: other.body.id } },
      })
    )
    expect(cold).toContain('BatchGetCommand')
  })
})

describe('liveness and readiness', () => {
  it('GET /health answers without reading the store; /health/ready reads it', async () => {
    const live = await commandsOf(async () => {
      const res = await h.call('GET', '/health')
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ status: 'ok', time: h.clock.now().toISOString() })
      expect(res.headers.get('x-request-id')).toMatch(/^[\w-]{8,}$/)
    })
    expect(live).toEqual([])
    const ready = await commandsOf(async () => {
      const res = await h.call('GET', '/health/ready')
      expect(res.status).toBe(200)
      expect(res.body.status).toBe('ok')
    })
    expect(ready).toEqual(['GetCommand'])
  })

  it('both refuse unknown query parameters', async () => {
    for (const path of ['/health?verbose=1', '/health/ready?verbose=1']) {
      const res = await h.call('GET', path)
      expect(res.status, path).toBe(400)
      expect(res.body.error).toMatchObject({ type: 'invalid_request', param: 'verbose' })
      expect(res.body.error.request_id).toBe(res.headers.get('x-request-id'))
    }
  })
})

describe('revocation with cached credentials', () => {
  it('is effective at once on the instance that revoked', async () => {
    const svc = await newServiceKey()
    const ask = () => h.call('POST', '/v1/authorize', { key: svc.secret, body: decisionBody() })
    expect((await ask()).status).toBe(200)
    expect((await ask()).status).toBe(200)
    const revoked = await h.call('DELETE', `/v1/service-keys/${svc.id}`, { key: h.operatorKey })
    expect(revoked.status).toBe(200)
    expect((await ask()).status).toBe(401)

    const key = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'short-lived', org_roles: ['organization_admin'] },
    })
    expect(key.status).toBe(201)
    const read = () => h.call('GET', '/v1/workspaces', { key: key.body.secret })
    expect((await read()).status).toBe(200)
    expect((await read()).status).toBe(200)
    await h.call('DELETE', `/v1/admin-keys/${key.body.id}`, { key: org.adminKey })
    expect((await read()).status).toBe(401)
  })

  it('is effective within a second on another instance over the same table', async () => {
    const other = createApp({
      db: new Db(h.db.doc, h.db.tableName),
      clock: h.clock,
      operatorKey: h.operatorKey,
    })
    const svc = await newServiceKey()
    const askOther = () =>
      other.request('/v1/authorize', {
        method: 'POST',
        headers: { authorization: `Bearer ${svc.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify(decisionBody()),
      })
    expect((await askOther()).status).toBe(200)
    const revokedAt = performance.now()
    await h.call('DELETE', `/v1/service-keys/${svc.id}`, { key: h.operatorKey })
    let status = (await askOther()).status
    while (status === 200 && performance.now() - revokedAt < 3000) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      status = (await askOther()).status
    }
    expect(status).toBe(401)
    // The other instance trusted its cached read for at most a second (plus one poll).
    expect(performance.now() - revokedAt).toBeLessThan(1000 + 250)
  })

  it('keeps checking expiry on a cached credential', async () => {
    const expiresAt = new Date(h.clock.now().getTime() + 60_000).toISOString()
    const key = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'expiring', org_roles: ['organization_admin'], expires_at: expiresAt },
    })
    expect(key.status).toBe(201)
    const read = () => h.call('GET', '/v1/organization', { key: key.body.secret })
    expect((await read()).status).toBe(200)
    h.clock.advance(61_000)
    expect((await read()).status).toBe(401)
  })
})
