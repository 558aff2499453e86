/**
 * Warm Admin reads (issue 12, docs/hot-path.md "Admin reads"): answered without a store request
 * from a cache kept per organization revision, so a change made through this instance is seen
 * by its very next read, another instance's within a second, and at once with
 * `Cache-Control: no-cache`. Not-found answers are never kept; organizations never share pages.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../functions/app/app.js'
import { wantsFreshRead } from '../functions/app/http/admin-reads.js'
import { createMember } from '../functions/domain/members.js'
import { newId } from '../functions/lib/ids.js'
import { Db, type Expression, type Item, type Key } from '../functions/store/db.js'
import { as, type Caller, email } from './helpers/admin-model.js'
import { checkResponses, createOrg, type Harness, startHarness } from './helpers/harness.js'

/** Every command the main instance sends to the table. */
let sent = 0
function counting(doc: DynamoDBDocumentClient): DynamoDBDocumentClient {
  return new Proxy(doc, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver)
      return (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
        sent++
        return target.send(command)
      }
    },
  })
}

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let api: Caller

beforeAll(async () => {
  h = await startHarness({ makeDb: (doc, table) => new Db(counting(doc), table) })
  org = await createOrg(h)
  api = as(h, org.adminKey)
})
afterAll(() => h.close())

/** A second API instance over the same table (its own Db, so its own caches). */
function otherInstance() {
  const app = createApp({
    db: new Db(h.db.doc, h.db.tableName),
    clock: h.clock,
    operatorKey: h.operatorKey,
  })
  checkResponses(app)
  return async (path: string, key = org.adminKey, headers: Record<string, string> = {}) => {
    const res = await app.request(path, { headers: { authorization: `Bearer ${key}`, ...headers } })
    // biome-ignore lint/suspicious/noExplicitAny: API bodies are read as JSON
    return { status: res.status, body: (await res.json()) as any }
  }
}

async function ok(path: string, headers?: Record<string, string>) {
  const res = await api.get(path, headers)
  expect(res.status, `${path}: ${res.text}`).toBe(200)
  return res.body
}

const ids = (list: { data: { id: string }[] }) => list.data.map((item) => item.id)

describe('a change made through this instance', () => {
  it('is seen by the very next read of every cached route', async () => {
    // Organization
    await ok('/v1/organization')
    expect((await api.patch('/v1/organization', { name: 'Acme Renamed' })).status).toBe(200)
    expect((await ok('/v1/organization')).name).toBe('Acme Renamed')

    // Workspaces: list and item, create / update / archive
    const before = await ok('/v1/workspaces')
    const ws = (await api.create('/v1/workspaces', { name: 'Cached' })).id as string
    expect(ids(await ok('/v1/workspaces'))).toEqual([...ids(before), ws])
    expect((await ok(`/v1/workspaces/${ws}`)).name).toBe('Cached')
    expect((await api.patch(`/v1/workspaces/${ws}`, { name: 'Renamed' })).status).toBe(200)
    expect((await ok(`/v1/workspaces/${ws}`)).name).toBe('Renamed')
    expect(ids(await ok('/v1/workspaces?status=archived'))).toEqual([])
    expect((await api.post(`/v1/workspaces/${ws}/archive`)).status).toBe(200)
    expect((await ok(`/v1/workspaces/${ws}`)).status).toBe('archived')
    expect(ids(await ok('/v1/workspaces?status=archived'))).toEqual([ws])

    // Members: list (plain, by email, by status) and item, create / update / delete
    const address = email('cache')
    expect((await ok(`/v1/members?email=${encodeURIComponent(address)}`)).data).toEqual([])
    const listed = ids(await ok('/v1/members?limit=20'))
    const member = (await api.create('/v1/members', { email: address, name: 'M' })).id as string
    expect(ids(await ok('/v1/members?limit=20'))).toEqual([...listed, member])
    expect(ids(await ok(`/v1/members?email=${encodeURIComponent(address)}`))).toEqual([member])
    expect((await ok(`/v1/members/${member}`)).name).toBe('M')
    expect(ids(await ok('/v1/members?status=deactivated'))).toEqual([])
    expect((await api.patch(`/v1/members/${member}`, { status: 'deactivated' })).status).toBe(200)
    expect((await ok(`/v1/members/${member}`)).status).toBe('deactivated')
    expect(ids(await ok('/v1/members?status=deactivated'))).toEqual([member])
    expect((await api.patch(`/v1/members/${member}`, { status: 'active' })).status).toBe(200)

    // Grants of a workspace (a new member is always in the default workspace)
    const grantsOf = async () =>
      (await ok(`/v1/workspaces/${org.defaultWorkspaceId}/access`)).data.filter(
        (grant: { principal: { id: string } }) => grant.principal.id === member
      )
    const rolesOf = async () => (await grantsOf()).map((grant: { roles: string[] }) => grant.roles)
    expect(await rolesOf()).not.toEqual([['billing']])
    await api.create(
      `/v1/workspaces/${org.defaultWorkspaceId}/access/members/${member}`,
      { roles: ['billing'] },
      'PUT'
    )
    expect(await rolesOf()).toEqual([['billing']])

    // Groups: list, item, members
    expect(ids(await ok('/v1/groups'))).toEqual([])
    const group = (await api.create('/v1/groups', { name: 'Cachers' })).id as string
    expect(ids(await ok('/v1/groups'))).toEqual([group])
    expect((await ok(`/v1/groups/${group}`)).name).toBe('Cachers')
    expect(ids(await ok(`/v1/groups/${group}/members`))).toEqual([])
    await api.create(`/v1/groups/${group}/members/${member}`, undefined, 'PUT')
    expect(ids(await ok(`/v1/groups/${group}/members`))).toEqual([member])
    expect((await api.patch(`/v1/groups/${group}`, { name: 'Renamed group' })).status).toBe(200)
    expect((await ok(`/v1/groups/${group}`)).name).toBe('Renamed group')

    // Seats
    const seatsOf = async () =>
      (await ok('/v1/seats')).data.find((pool: { product: string }) => pool.product === 'chat')
    expect((await seatsOf()).purchased).toBe(0)
    await api.create('/v1/seats/chat', { purchased: 3 }, 'PUT')
    expect((await seatsOf()).purchased).toBe(3)
    await api.create(`/v1/members/${member}/seats/chat`, undefined, 'PUT')
    expect((await seatsOf()).assigned).toBe(1)

    // Removing the member shows everywhere at once, and the item becomes a 404.
    expect((await api.delete(`/v1/members/${member}`)).status).toBe(200)
    expect(ids(await ok('/v1/members?limit=20'))).toEqual(listed)
    expect((await api.get(`/v1/members/${member}`)).status).toBe(404)
    expect(ids(await ok(`/v1/groups/${group}/members`))).toEqual([])
    expect(await grantsOf()).toEqual([])
    expect((await seatsOf()).assigned).toBe(0)
    expect((await api.delete(`/v1/groups/${group}`)).status).toBe(200)
    expect(ids(await ok('/v1/groups'))).toEqual([])
    expect((await api.get(`/v1/groups/${group}`)).status).toBe(404)
  })

  it('un-nesting done by a group deletion is seen at once by the subgroup', async () => {
    const parent = (await api.create('/v1/groups', { name: 'Parent' })).id as string
    const child = (await api.create('/v1/groups', { name: 'Child' })).id as string
    await api.create(`/v1/groups/${parent}/subgroups/${child}`, undefined, 'PUT')
    expect((await ok(`/v1/groups/${child}`)).parent_group_ids).toEqual([parent])
    expect((await api.delete(`/v1/groups/${parent}`)).status).toBe(200)
    expect((await ok(`/v1/groups/${child}`)).parent_group_ids).toEqual([])
  })
})

/** A Db that runs `beforeUpdate` ahead of each UpdateItem (to read in the middle of a change). */
class HookedDb extends Db {
  beforeUpdate: ((key: Key, update: Expression) => Promise<void>) | undefined
  afterGet: ((key: Key) => Promise<void>) | undefined
  override async get(key: Key, consistent = true): Promise<Item | undefined> {
    const item = await super.get(key, consistent)
    await this.afterGet?.(key)
    return item
  }
  override async update(...args: Parameters<Db['update']>): Promise<Item | undefined> {
    await this.beforeUpdate?.(args[0], args[1])
    return super.update(...args)
  }
}

describe('a read made while a change is in progress on this instance', () => {
  let hh: Harness
  let hooked: HookedDb
  beforeAll(async () => {
    hh = await startHarness({
      makeDb: (doc, table) => {
        hooked = new HookedDb(doc, table)
        return hooked
      },
    })
  })
  afterAll(() => hh.close())

  it('is not kept when a change lands while it is in flight', async () => {
    const acme = await createOrg(hh, 'Before')
    const admin = as(hh, acme.adminKey)
    await admin.get('/v1/organization')
    hooked.afterGet = async (key) => {
      if (key.SK !== 'ORG') return
      hooked.afterGet = undefined
      // The read has its (old) item; the rename commits before the read answers.
      expect((await admin.patch('/v1/organization', { name: 'After' })).status).toBe(200)
    }
    const inFlight = await admin.get('/v1/organization', { 'cache-control': 'no-cache' })
    expect(inFlight.body.name).toBe('Before')
    expect((await admin.get('/v1/organization')).body.name).toBe('After')
  })

  it('is not served after the change: a group deletion un-nests its subgroup after its audit', async () => {
    const acme = await createOrg(hh)
    const admin = as(hh, acme.adminKey)
    const parent = (await admin.create('/v1/groups', { name: 'Parent' })).id as string
    const child = (await admin.create('/v1/groups', { name: 'Child' })).id as string
    await admin.create(`/v1/groups/${parent}/subgroups/${child}`, undefined, 'PUT')
    let during: string[] | undefined
    hooked.beforeUpdate = async (key, update) => {
      if (key.SK.endsWith(child) && update.expression.startsWith('DELETE')) {
        hooked.beforeUpdate = undefined
        // The deletion is audited by now; the child still names its parent.
        during = (await admin.get(`/v1/groups/${child}`)).body.parent_group_ids
      }
    }
    expect((await admin.delete(`/v1/groups/${parent}`)).status).toBe(200)
    expect(during).toEqual([parent])
    expect((await admin.get(`/v1/groups/${child}`)).body.parent_group_ids).toEqual([])
  })
})

describe('store requests', () => {
  it('a repeated warm read sends none; no-cache, no-store and max-age=0 read the table', async () => {
    const ws = (await api.create('/v1/workspaces', { name: 'Counted' })).id as string
    const routes = [
      '/v1/organization',
      '/v1/workspaces',
      `/v1/workspaces/${ws}`,
      '/v1/members?limit=20',
      `/v1/workspaces/${ws}/access`,
      '/v1/groups',
      '/v1/seats',
    ]
    for (const path of routes) {
      await ok(path)
      const before = sent
      await ok(path)
      await ok(path)
      expect(sent - before, path).toBe(0)
      for (const directive of ['no-cache', 'no-store', 'max-age=0']) {
        const from = sent
        await ok(path, { 'cache-control': directive })
        expect(sent - from, `${path} with ${directive}`).toBeGreaterThanOrEqual(1)
      }
    }
  })

  it('an entry is used for at most a second', async () => {
    await ok('/v1/organization')
    let before = sent
    await ok('/v1/organization')
    expect(sent - before).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 1050))
    before = sent
    await ok('/v1/organization')
    // Its own read, and possibly the decision path's once-a-second revision check.
    expect(sent - before).toBeGreaterThanOrEqual(1)
  })

  it('reads that are not cached still read the table (API keys: last_used_at changes unaudited)', async () => {
    await ok('/v1/api-keys')
    const before = sent
    await ok('/v1/api-keys')
    expect(sent - before).toBeGreaterThanOrEqual(1)
  })
})

describe('another instance over the same table', () => {
  it("shows this instance's change within a second, and at once with Cache-Control: no-cache", async () => {
    const other = otherInstance()
    const ws = (await api.create('/v1/workspaces', { name: 'Shared' })).id as string
    const paths = [`/v1/workspaces/${ws}`, '/v1/workspaces', '/v1/organization']
    for (const path of paths) expect((await other(path)).status).toBe(200)
    expect((await other(`/v1/workspaces/${ws}`)).body.name).toBe('Shared')

    const changedAt = performance.now()
    expect((await api.patch(`/v1/workspaces/${ws}`, { name: 'Changed elsewhere' })).status).toBe(
      200
    )
    const fresh = await other(`/v1/workspaces/${ws}`, org.adminKey, { 'cache-control': 'no-cache' })
    expect(fresh.body.name).toBe('Changed elsewhere')

    // The list was cached on the other instance before the change: it catches up within 1 s.
    const nameInList = async () =>
      (await other('/v1/workspaces')).body.data.find((w: { id: string }) => w.id === ws).name
    let name = await nameInList()
    while (name !== 'Changed elsewhere' && performance.now() - changedAt < 3000) {
      await new Promise((resolve) => setTimeout(resolve, 25))
      name = await nameInList()
    }
    expect(name).toBe('Changed elsewhere')
    expect(performance.now() - changedAt).toBeLessThan(1100)
  })

  it('does not keep a 404: a member created elsewhere right after is found at once', async () => {
    const other = otherInstance()
    const id = newId('member', h.clock.now())
    expect((await other(`/v1/members/${id}`)).status).toBe(404)
    await createMember(
      { db: h.db, clock: h.clock, actor: { type: 'system', id: 'test' }, requestId: null },
      org.id,
      { email: email('elsewhere'), name: 'Elsewhere' },
      { id }
    )
    const found = await other(`/v1/members/${id}`)
    expect(found.status).toBe(200)
    expect(found.body.name).toBe('Elsewhere')
  })
})

describe('organizations', () => {
  it("never see each other's cached pages or items", async () => {
    const second = await createOrg(h, 'Beta')
    const beta = as(h, second.adminKey)
    const mine = await ok('/v1/workspaces')
    const theirs = await beta.get('/v1/workspaces')
    expect(theirs.status).toBe(200)
    expect(ids(theirs.body)).toEqual([second.defaultWorkspaceId])
    expect(ids(mine)).not.toContain(second.defaultWorkspaceId)
    expect((await beta.get('/v1/organization')).body.id).toBe(second.id)
    expect((await ok('/v1/organization')).id).toBe(org.id)
    // Org A's workspace is cached by A; B asking for it by id is still a 404.
    await ok(`/v1/workspaces/${org.defaultWorkspaceId}`)
    expect((await beta.get(`/v1/workspaces/${org.defaultWorkspaceId}`)).status).toBe(404)
    expect((await beta.get(`/v1/workspaces/${org.defaultWorkspaceId}/access`)).status).toBe(404)
  })
})

describe('Cache-Control request directives', () => {
  it('asks for a fresh read on no-cache, no-store and max-age=0 only', () => {
    for (const header of ['no-cache', 'No-Store', 'max-age=0', 'private, no-cache', 'max-age="0"'])
      expect(wantsFreshRead(header), header).toBe(true)
    for (const header of [undefined, '', 'max-age=5', 'max-stale', 'only-if-cached', 'max-age='])
      expect(wantsFreshRead(header), String(header)).toBe(false)
  })
})
