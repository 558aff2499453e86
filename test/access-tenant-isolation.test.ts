import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, email } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/** Organization B's admin key sees 404 for everything of A's, and its lists never mix. */
let h: Harness
let a: Caller
let b: Caller
const A = {} as Record<'ws' | 'member' | 'group' | 'invite' | 'key' | 'keySecret', string>
const B = {} as Record<'ws' | 'member' | 'group', string>

beforeAll(async () => {
  h = await startHarness()
  const orgA = await createOrg(h, 'Tenant A')
  const orgB = await createOrg(h, 'Tenant B')
  a = as(h, orgA.adminKey)
  b = as(h, orgB.adminKey)
  A.ws = (await a.create('/v1/workspaces', { name: 'A ws' })).id
  A.member = (await a.create('/v1/members', { email: email('a'), name: 'A member' })).id
  A.group = (await a.create('/v1/groups', { name: 'Shared name' })).id
  await a.create(`/v1/groups/${A.group}/members/${A.member}`, undefined, 'PUT')
  await a.create(`/v1/workspaces/${A.ws}/access/groups/${A.group}`, { roles: ['user'] }, 'PUT')
  A.invite = (await a.create('/v1/invites', { email: email('a-invite') })).id
  const key = await a.create('/v1/api-keys', { name: 'A key', workspace_id: A.ws })
  A.key = key.id
  A.keySecret = key.secret
  await a.create('/v1/seats/chat', { purchased: 5 }, 'PUT')
  await a.create(`/v1/members/${A.member}/seats/chat`, undefined, 'PUT')
  B.ws = (await b.create('/v1/workspaces', { name: 'B ws' })).id
  B.member = (await b.create('/v1/members', { email: email('b'), name: 'B member' })).id
  // Group names are unique per organization only.
  B.group = (await b.create('/v1/groups', { name: 'Shared name' })).id
  await b.create('/v1/seats/chat', { purchased: 5 }, 'PUT')
})
afterAll(() => h.close())

describe('tenant isolation of members, groups, invites, access, seats and API keys', () => {
  it("404s every route that names another organization's resource", async () => {
    const attempts: [string, string, unknown?][] = [
      ['GET', `/v1/members/${A.member}`],
      ['PATCH', `/v1/members/${A.member}`, { name: 'hijacked' }],
      ['DELETE', `/v1/members/${A.member}`],
      ['GET', `/v1/members/${A.member}/effective-access`],
      ['PUT', `/v1/members/${A.member}/seats/chat`],
      ['DELETE', `/v1/members/${A.member}/seats/chat`],
      ['GET', `/v1/groups/${A.group}`],
      ['PATCH', `/v1/groups/${A.group}`, { name: 'hijacked' }],
      ['DELETE', `/v1/groups/${A.group}`],
      ['GET', `/v1/groups/${A.group}/members`],
      ['PUT', `/v1/groups/${A.group}/members/${B.member}`],
      ['DELETE', `/v1/groups/${A.group}/members/${A.member}`],
      ['PUT', `/v1/groups/${B.group}/members/${A.member}`],
      ['PUT', `/v1/groups/${B.group}/subgroups/${A.group}`],
      ['PUT', `/v1/groups/${A.group}/subgroups/${B.group}`],
      ['GET', `/v1/workspaces/${A.ws}/access`],
      ['PUT', `/v1/workspaces/${A.ws}/access/members/${B.member}`, { roles: ['user'] }],
      ['PUT', `/v1/workspaces/${B.ws}/access/members/${A.member}`, { roles: ['user'] }],
      ['PUT', `/v1/workspaces/${B.ws}/access/groups/${A.group}`, { roles: ['user'] }],
      ['DELETE', `/v1/workspaces/${A.ws}/access/groups/${A.group}`],
      ['GET', `/v1/invites/${A.invite}`],
      ['DELETE', `/v1/invites/${A.invite}`],
      ['GET', `/v1/api-keys/${A.key}`],
      ['DELETE', `/v1/api-keys/${A.key}`],
      ['POST', `/v1/api-keys/${A.key}/rotate`],
      ['POST', '/v1/api-keys', { name: 'x', workspace_id: A.ws }],
      ['POST', '/v1/api-keys', { name: 'x', workspace_id: B.ws, member_id: A.member }],
      [
        'POST',
        '/v1/members',
        { email: email(), name: 'x', workspaces: [{ workspace_id: A.ws, roles: ['user'] }] },
      ],
      [
        'POST',
        '/v1/invites',
        { email: email(), workspaces: [{ workspace_id: A.ws, roles: ['user'] }] },
      ],
    ]
    for (const [method, path, body] of attempts) {
      const res = await b.send(method, path, body)
      expect(res.status, `${method} ${path}`).toBe(404)
      expect(res.body.error.type).toBe('not_found')
    }
    // Nothing of A changed.
    expect((await a.get(`/v1/members/${A.member}`)).body).toMatchObject({
      name: 'A member',
      version: 1,
    })
    expect((await a.get(`/v1/groups/${A.group}`)).body).toMatchObject({
      name: 'Shared name',
      subgroup_ids: [],
    })
    expect((await a.get(`/v1/api-keys/${A.key}`)).body.status).toBe('active')
    expect((await a.get(`/v1/invites/${A.invite}`)).body.status).toBe('pending')
    const access = (await a.get(`/v1/members/${A.member}/effective-access`)).body
    expect(access.groups.map((g: { id: string }) => g.id)).toEqual([A.group])
    const seats = (await a.get('/v1/seats')).body.data
    expect(seats.find((s: { product: string }) => s.product === 'chat').assigned).toBe(1)
  })

  it('lists only the own organization', async () => {
    const lists = [
      '/v1/members',
      '/v1/groups',
      '/v1/invites',
      '/v1/api-keys',
      `/v1/workspaces/${B.ws}/access`,
    ]
    for (const path of lists) {
      const text = (await b.get(`${path}?limit=100`)).text
      for (const id of Object.values(A)) expect(text, path).not.toContain(id)
    }
    const seats = (await b.get('/v1/seats')).body.data
    expect(seats.find((s: { product: string }) => s.product === 'chat').assigned).toBe(0)
    const byEmail = await b.get(`/v1/members?email=${encodeURIComponent('a')}`)
    expect(byEmail.body.data).toEqual([])
  })

  it("refuses another organization's cursor", async () => {
    await a.create('/v1/members', { email: email('a2'), name: 'A two' })
    const page = await a.get('/v1/members?limit=1')
    expect(page.body.next_cursor).toEqual(expect.any(String))
    const res = await b.get(`/v1/members?limit=1&after=${page.body.next_cursor}`)
    expect(res.status).toBe(400)
    expect(res.body.error.param).toBe('after')
  })
})
