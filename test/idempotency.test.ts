import { ScanCommand } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
})
afterAll(() => h.close())

const createWorkspace = (key: string, body: unknown, idempotencyKey?: string) =>
  h.call('POST', '/v1/workspaces', {
    key,
    body,
    headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {},
  })

async function countWorkspaces(name: string): Promise<number> {
  const res = await h.call('GET', '/v1/workspaces?limit=100', { key: org.adminKey })
  return res.body.data.filter((w: { name: string }) => w.name === name).length
}

describe('Idempotency-Key', () => {
  it('replays the first response for the same key and body, creating once', async () => {
    const first = await createWorkspace(org.adminKey, { name: 'Once' }, 'key-1')
    const second = await createWorkspace(org.adminKey, { name: 'Once' }, 'key-1')
    expect(first.status).toBe(201)
    expect(second.status).toBe(201)
    expect(second.body).toEqual(first.body)
    expect(second.headers.get('idempotent-replayed')).toBe('true')
    expect(await countWorkspaces('Once')).toBe(1)
  })

  it('treats the same JSON value with other key order or spacing as the same body', async () => {
    const first = await createWorkspace(
      org.adminKey,
      '{"name":"Spaced","description":"d"}',
      'key-2'
    )
    const second = await createWorkspace(
      org.adminKey,
      '{ "description": "d",  "name": "Spaced" }',
      'key-2'
    )
    expect(second.body.id).toBe(first.body.id)
  })

  it('409s the same key with a different body and creates nothing more', async () => {
    await createWorkspace(org.adminKey, { name: 'First body' }, 'key-3')
    const other = await createWorkspace(org.adminKey, { name: 'Second body' }, 'key-3')
    expect(other.status).toBe(409)
    expect(other.body.error.param).toBe('Idempotency-Key')
    expect(await countWorkspaces('Second body')).toBe(0)
  })

  it('forgets the key after 24 hours', async () => {
    const first = await createWorkspace(org.adminKey, { name: 'Daily' }, 'key-4')
    h.clock.advance(24 * 60 * 60 * 1000 + 1000)
    const later = await createWorkspace(org.adminKey, { name: 'Daily' }, 'key-4')
    expect(later.status).toBe(201)
    expect(later.body.id).not.toBe(first.body.id)
    expect(later.headers.get('idempotent-replayed')).toBeNull()
  })

  it('scopes keys to the credential', async () => {
    const other = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'second admin', org_roles: ['organization_admin'] },
    })
    const a = await createWorkspace(org.adminKey, { name: 'Scoped' }, 'shared-key')
    const b = await createWorkspace(other.body.secret, { name: 'Scoped' }, 'shared-key')
    expect(b.status).toBe(201)
    expect(b.body.id).not.toBe(a.body.id)
  })

  it('does not keep failed requests: a retry after a 4xx runs again', async () => {
    const bad = await createWorkspace(org.adminKey, { name: '' }, 'key-5')
    expect(bad.status).toBe(400)
    const good = await createWorkspace(org.adminKey, { name: '' }, 'key-5')
    expect(good.status).toBe(400)
    expect(good.headers.get('idempotent-replayed')).toBeNull()
  })

  it('creates exactly once under concurrent retries', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => createWorkspace(org.adminKey, { name: 'Raced' }, 'key-6'))
    )
    const created = results.filter((r) => r.status === 201)
    const inProgress = results.filter((r) => r.status === 409)
    expect(created.length + inProgress.length).toBe(8)
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1)
    expect(await countWorkspaces('Raced')).toBe(1)
  })

  it('replays a created key secret without storing it readable', async () => {
    const first = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      headers: { 'idempotency-key': 'key-secret' },
      body: { name: 'replayed', org_roles: ['member'] },
    })
    const replay = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      headers: { 'idempotency-key': 'key-secret' },
      body: { name: 'replayed', org_roles: ['member'] },
    })
    expect(replay.body.secret).toBe(first.body.secret)
    const scan = await h.db.doc.send(new ScanCommand({ TableName: h.db.tableName }))
    const text = JSON.stringify(scan.Items)
    expect(text).not.toContain(first.body.secret)
    expect(text).not.toContain('key-secret')
  })

  it('works on operator creates too', async () => {
    const body = { name: 'Idempotent org' }
    const headers = { 'idempotency-key': 'org-1' }
    const first = await h.call('POST', '/v1/organizations', { key: h.operatorKey, body, headers })
    const second = await h.call('POST', '/v1/organizations', { key: h.operatorKey, body, headers })
    expect(second.body.organization.id).toBe(first.body.organization.id)
    const list = await h.call('GET', '/v1/organizations?limit=100', { key: h.operatorKey })
    expect(
      list.body.data.filter((o: { name: string }) => o.name === 'Idempotent org')
    ).toHaveLength(1)
  })

  it('refuses a malformed key', async () => {
    const res = await createWorkspace(org.adminKey, { name: 'x' }, 'has spaces in it')
    expect(res.status).toBe(400)
    expect(res.body.error.param).toBe('Idempotency-Key')
  })
})
