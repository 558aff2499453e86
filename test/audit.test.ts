import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
})
afterAll(() => h.close())

const audit = (query = '') => h.call('GET', `/v1/audit-events${query}`, { key: org.adminKey })

describe('audit log', () => {
  it('records organization creation by the operator', async () => {
    const res = await audit('?limit=100')
    const types = res.body.data.map((e: { event_type: string }) => e.event_type)
    expect(types).toEqual(
      expect.arrayContaining(['organization.created', 'workspace.created', 'admin_key.created'])
    )
    const created = res.body.data.find(
      (e: { event_type: string }) => e.event_type === 'organization.created'
    )
    expect(created.actor).toEqual({ type: 'operator', id: 'operator' })
    expect(created.after).toMatchObject({ id: org.id, name: 'Acme' })
  })

  it('records every change with actor, target, before/after and request id', async () => {
    const ws = await h.call('POST', '/v1/workspaces', {
      key: org.adminKey,
      body: { name: 'Audited' },
      headers: { 'x-request-id': 'req-create-ws' },
    })
    await h.call('PATCH', `/v1/workspaces/${ws.body.id}`, {
      key: org.adminKey,
      body: { name: 'Audited 2' },
      headers: { 'x-request-id': 'req-rename-ws' },
    })
    await h.call('POST', `/v1/workspaces/${ws.body.id}/archive`, { key: org.adminKey })
    const res = await audit(`?target_id=${ws.body.id}`)
    const events = res.body.data
    expect(events.map((e: { event_type: string }) => e.event_type)).toEqual([
      'workspace.archived',
      'workspace.updated',
      'workspace.created',
    ])
    const renamed = events[1]
    expect(renamed).toMatchObject({
      object: 'audit_event',
      organization_id: org.id,
      actor: { type: 'admin_key', id: org.adminKeyId },
      target: { type: 'workspace', id: ws.body.id },
      workspace_id: ws.body.id,
      request_id: 'req-rename-ws',
    })
    expect(renamed.before.name).toBe('Audited')
    expect(renamed.after.name).toBe('Audited 2')
    expect(events[2].request_id).toBe('req-create-ws')
    expect(events[2].before).toBeNull()
  })

  it('never puts a secret in the log', async () => {
    const key = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'secret-check', org_roles: ['member'] },
    })
    await h.call('DELETE', `/v1/admin-keys/${key.body.id}`, { key: org.adminKey })
    const res = await audit(`?target_id=${key.body.id}`)
    expect(res.body.data.map((e: { event_type: string }) => e.event_type)).toEqual([
      'admin_key.revoked',
      'admin_key.created',
    ])
    expect(JSON.stringify(res.body)).not.toContain(key.body.secret)
  })

  it('filters by actor, event type and time', async () => {
    const second = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'second actor', org_roles: ['organization_admin'] },
    })
    h.clock.advance(60_000)
    const marker = h.clock.now().toISOString()
    await h.call('POST', '/v1/workspaces', { key: second.body.secret, body: { name: 'By second' } })
    h.clock.advance(60_000)
    const end = h.clock.now().toISOString()
    await h.call('POST', '/v1/workspaces', { key: second.body.secret, body: { name: 'Later' } })

    const byActor = await audit(`?actor_id=${second.body.id}`)
    expect(byActor.body.data.map((e: { after: { name: string } }) => e.after.name)).toEqual([
      'Later',
      'By second',
    ])
    const byType = await audit('?event_type=admin_key.created&limit=100')
    expect(
      byType.body.data.every((e: { event_type: string }) => e.event_type === 'admin_key.created')
    ).toBe(true)
    const windowed = await audit(`?after_time=${marker}&before_time=${end}`)
    expect(windowed.body.data.map((e: { after: { name: string } }) => e.after.name)).toEqual([
      'By second',
    ])
  })

  it('pages through filtered results', async () => {
    for (let i = 0; i < 5; i++) {
      await h.call('POST', '/v1/workspaces', { key: org.adminKey, body: { name: `Paged ${i}` } })
    }
    const names: string[] = []
    let cursor: string | null = null
    do {
      const res = await audit(
        `?event_type=workspace.created&limit=2${cursor ? `&after=${cursor}` : ''}`
      )
      names.push(...res.body.data.map((e: { after: { name: string } }) => e.after.name))
      cursor = res.body.next_cursor
    } while (cursor)
    expect(names.filter((n) => n.startsWith('Paged'))).toEqual([
      'Paged 4',
      'Paged 3',
      'Paged 2',
      'Paged 1',
      'Paged 0',
    ])
    // a cursor made for one filter is refused for another
    const page = await audit('?event_type=workspace.created&limit=1')
    const reused = await audit(`?event_type=admin_key.created&after=${page.body.next_cursor}`)
    expect(reused.status).toBe(400)
  })

  it('exports CSV with a header row and the same events as JSON', async () => {
    const json = await audit('?limit=100')
    const csv = await audit('?format=csv')
    expect(csv.status).toBe(200)
    expect(csv.headers.get('content-type')).toContain('text/csv')
    const lines = csv.text.trim().split('\r\n')
    expect(lines[0]).toBe(
      'id,occurred_at,event_type,actor_type,actor_id,target_type,target_id,workspace_id,request_id,before,after'
    )
    const csvIds = lines.slice(1).map((line) => line.split(',')[0])
    expect(csvIds).toEqual(json.body.data.map((e: { id: string }) => e.id))
  })

  it('quotes CSV fields that hold JSON', async () => {
    await h.call('POST', '/v1/workspaces', { key: org.adminKey, body: { name: '=HYPERLINK("x")' } })
    const csv = await audit('?format=csv&limit=1')
    const row = csv.text.split('\r\n')[1]!
    // the name sits inside the JSON of `after`, which is quoted with doubled quotes
    expect(row).toContain('""name"":""=HYPERLINK(\\""x\\"")""')
    expect(csv.headers.get('x-next-cursor')).toEqual(expect.any(String))
  })

  it('refuses JSON pages over 100 and bad times', async () => {
    expect((await audit('?limit=500')).status).toBe(400)
    expect((await audit('?after_time=yesterday')).status).toBe(400)
  })
})
