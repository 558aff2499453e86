import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, email } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import {
  createScimToken,
  expectScimError,
  newUser,
  SCIM,
  type ScimClient,
  scimClient,
} from './helpers/scim.js'

let h: Harness
let admin: Caller
let scim: ScimClient
let tokenId: string

beforeAll(async () => {
  h = await startHarness()
  const org = await createOrg(h)
  admin = as(h, org.adminKey)
  const token = await createScimToken(h, org.adminKey)
  tokenId = token.id
  scim = scimClient(h, token.secret)
})
afterAll(() => h.close())

const q = (filter: string) => `/Users?filter=${encodeURIComponent(filter)}`

describe('discovery', () => {
  it('ServiceProviderConfig: patch, no bulk, filter with maxResults, etag, bearer', async () => {
    const res = await scim.get('/ServiceProviderConfig')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/)
    expect(res.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true, maxResults: 200 },
      etag: { supported: true },
      sort: { supported: false },
      changePassword: { supported: false },
    })
    expect(res.body.authenticationSchemes).toEqual([
      expect.objectContaining({ type: 'oauthbearertoken', primary: true }),
    ])
  })

  it('ResourceTypes and Schemas: User with the enterprise extension, Group', async () => {
    const types = await scim.get('/ResourceTypes')
    expect(types.body.schemas).toEqual([SCIM.list])
    expect(types.body.totalResults).toBe(2)
    const user = types.body.Resources.find((t: { id: string }) => t.id === 'User')
    expect(user).toMatchObject({
      endpoint: '/Users',
      schema: SCIM.user,
      schemaExtensions: [{ schema: SCIM.enterprise, required: false }],
    })
    expect((await scim.get('/ResourceTypes/Group')).body.schema).toBe(SCIM.group)
    expectScimError(await scim.get('/ResourceTypes/Device'), 404)

    const schemas = await scim.get('/Schemas')
    expect(schemas.body.Resources.map((s: { id: string }) => s.id)).toEqual([
      SCIM.user,
      SCIM.enterprise,
      SCIM.group,
    ])
    const userSchema = (await scim.get(`/Schemas/${SCIM.user}`)).body
    const userName = userSchema.attributes.find((a: { name: string }) => a.name === 'userName')
    expect(userName).toMatchObject({ required: true, caseExact: false, uniqueness: 'server' })
    const enterprise = (await scim.get(`/Schemas/${SCIM.enterprise}`)).body
    expect(enterprise.attributes.map((a: { name: string }) => a.name)).toEqual(
      expect.arrayContaining(['employeeNumber', 'department', 'manager'])
    )
    expectScimError(await scim.get('/Bulk'), 404)
  })
})

describe('POST /Users', () => {
  it('creates a member (201, Location, ETag) that the Admin API shows', async () => {
    const address = email('grace')
    const res = await scim.post(
      '/Users',
      newUser(address, {
        externalId: 'okta-00u1',
        name: { givenName: 'Grace', familyName: 'Hopper' },
        displayName: 'Grace Hopper',
        [SCIM.enterprise]: { department: 'Navy', employeeNumber: '42', manager: { value: 'm-1' } },
      })
    )
    expect(res.status).toBe(201)
    expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/)
    expect(res.headers.get('location')).toBe(`http://localhost/scim/v2/Users/${res.body.id}`)
    expect(res.headers.get('etag')).toBe('W/"1"')
    expect(res.body).toMatchObject({
      schemas: [SCIM.user, SCIM.enterprise],
      userName: address,
      externalId: 'okta-00u1',
      name: { givenName: 'Grace', familyName: 'Hopper', formatted: 'Grace Hopper' },
      displayName: 'Grace Hopper',
      emails: [{ value: address, type: 'work', primary: true }],
      active: true,
      groups: [],
      [SCIM.enterprise]: { department: 'Navy', employeeNumber: '42', manager: { value: 'm-1' } },
      meta: { resourceType: 'User', version: 'W/"1"' },
    })
    const member = await admin.get(`/v1/members/${res.body.id}`)
    expect(member.body).toMatchObject({
      email: address,
      name: 'Grace Hopper',
      given_name: 'Grace',
      family_name: 'Hopper',
      external_id: 'okta-00u1',
      scim_managed: true,
      status: 'active',
      org_role: 'member',
    })
    expect((await scim.get(`/Users/${res.body.id}`)).body).toEqual(res.body)
  })

  it('a user created inactive is a deactivated member', async () => {
    const res = await scim.post('/Users', newUser(email(), { active: 'False' }))
    expect(res.status).toBe(201)
    expect(res.body.active).toBe(false)
    expect((await admin.get(`/v1/members/${res.body.id}`)).body.status).toBe('deactivated')
  })

  it('a duplicate userName in any case → 409 uniqueness, also against Admin API members', async () => {
    const address = email('dup')
    expect((await scim.post('/Users', newUser(address))).status).toBe(201)
    expectScimError(await scim.post('/Users', newUser(address.toUpperCase())), 409, 'uniqueness')
    const existing = email('existing')
    await admin.create('/v1/members', { email: existing, name: 'Existing' })
    expectScimError(await scim.post('/Users', newUser(existing)), 409, 'uniqueness')
  })

  it('bad input → 400 with a scimType, and nothing is created', async () => {
    const before = (await scim.get('/Users?count=0')).body.totalResults
    expectScimError(await scim.post('/Users', { displayName: 'No userName' }), 400, 'invalidValue')
    expectScimError(await scim.post('/Users', newUser('not-an-email')), 400, 'invalidValue')
    expectScimError(
      await scim.post('/Users', newUser(email(), { active: 'maybe' })),
      400,
      'invalidValue'
    )
    const notJson = await scim.send('POST', '/Users', '{"userName": ')
    expectScimError(notJson, 400, 'invalidSyntax')
    const xml = await scim.send('POST', '/Users', '<User/>', { 'content-type': 'application/xml' })
    expectScimError(xml, 415)
    expect((await scim.get('/Users?count=0')).body.totalResults).toBe(before)
  })

  it('a body over 1 MiB → 413, a malformed If-Match → 400, both SCIM-shaped', async () => {
    const huge = newUser(email(), { displayName: 'x'.repeat(1024 * 1024) })
    expectScimError(await scim.post('/Users', huge), 413)
    const user = (await scim.post('/Users', newUser(email()))).body
    expectScimError(
      await scim.put(`/Users/${user.id}`, newUser(user.userName), { 'if-match': 'version 1' }),
      400,
      'invalidValue'
    )
  })

  it('accepts application/json as well as application/scim+json', async () => {
    const res = await scim.send('POST', '/Users', newUser(email()), {
      'content-type': 'application/json',
    })
    expect(res.status).toBe(201)
  })
})

describe('GET /Users', () => {
  const made: Record<string, { id: string; userName: string }> = {}

  beforeAll(async () => {
    const people = [
      { key: 'alice', displayName: 'Alice Alpha', externalId: 'ext-alice', active: true },
      { key: 'bob', displayName: 'Bob Beta', externalId: 'ext-bob', active: false },
      { key: 'carol', displayName: 'Carol Alpha', active: true },
    ]
    for (const person of people) {
      const address = `${person.key}.${Math.random().toString(36).slice(2, 7)}@filters.example`
      const res = await scim.post(
        '/Users',
        newUser(address, {
          displayName: person.displayName,
          active: person.active,
          ...(person.externalId ? { externalId: person.externalId } : {}),
        })
      )
      made[person.key] = res.body
    }
  })

  const idsOf = async (filter: string) => {
    const res = await scim.get(q(filter))
    expect(res.status, res.text).toBe(200)
    expect(res.body.schemas).toEqual([SCIM.list])
    return res.body.Resources.map((u: { id: string }) => u.id).sort()
  }
  const ids = (...keys: string[]) => keys.map((key) => made[key]!.id).sort()

  it('userName eq is case-insensitive (Okta’s case check) and finds exactly one', async () => {
    expect(await idsOf(`userName eq "${made.alice!.userName.toUpperCase()}"`)).toEqual(ids('alice'))
    expect(await idsOf('userName eq "nobody@nowhere.example"')).toEqual([])
  })

  it('eq on externalId and emails.value, also as Entra spells it', async () => {
    expect(await idsOf('externalId eq "ext-bob"')).toEqual(ids('bob'))
    expect(await idsOf('externalId eq "EXT-BOB"')).toEqual([])
    expect(await idsOf(`emails.value eq "${made.carol!.userName}"`)).toEqual(ids('carol'))
    expect(await idsOf(`emails[type eq "work"].value eq "${made.carol!.userName}"`)).toEqual(
      ids('carol')
    )
    expect(await idsOf(`id eq "${made.bob!.id}"`)).toEqual(ids('bob'))
  })

  it('ne, co, sw, pr, and, or, not on userName, displayName, active, externalId', async () => {
    const scope = 'userName ew "@filters.example"'
    expect(await idsOf(`${scope} and displayName co "alpha"`)).toEqual(ids('alice', 'carol'))
    expect(await idsOf(`${scope} and displayName sw "bob"`)).toEqual(ids('bob'))
    expect(await idsOf(`${scope} and active eq false`)).toEqual(ids('bob'))
    expect(await idsOf(`${scope} and active ne false`)).toEqual(ids('alice', 'carol'))
    expect(await idsOf(`${scope} and externalId pr`)).toEqual(ids('alice', 'bob'))
    expect(await idsOf(`${scope} and not (externalId pr)`)).toEqual(ids('carol'))
    expect(await idsOf(`userName sw "alice." or userName sw "carol."`)).toEqual(
      ids('alice', 'carol')
    )
    expect(
      await idsOf(`externalId eq "ext-alice" or userName eq "${made.carol!.userName}"`)
    ).toEqual(ids('alice', 'carol'))
    expect(await idsOf(`externalId eq "ext-alice" and active eq false`)).toEqual([])
    expect(await idsOf(`${scope} and displayName ne "Bob Beta"`)).toEqual(ids('alice', 'carol'))
  })

  it('a bad or unsupported filter → 400 invalidFilter', async () => {
    expectScimError(await scim.get(q('userName eq')), 400, 'invalidFilter')
    expectScimError(await scim.get(q('userName xx "a"')), 400, 'invalidFilter')
    expectScimError(await scim.get(q('password eq "secret"')), 400, 'invalidFilter')
    expectScimError(await scim.get(q('active gt true')), 400, 'invalidFilter')
  })

  it('pages with startIndex/count: integer fields, a ListResponse even when empty', async () => {
    const all = await scim.get('/Users?count=200')
    const total = all.body.totalResults
    expect(total).toBeGreaterThanOrEqual(3)
    const first = await scim.get('/Users?startIndex=1&count=2')
    expect(first.body).toMatchObject({ totalResults: total, startIndex: 1, itemsPerPage: 2 })
    expect(first.body.Resources.map((u: { id: string }) => u.id)).toEqual(
      all.body.Resources.slice(0, 2).map((u: { id: string }) => u.id)
    )
    const second = await scim.get('/Users?startIndex=3&count=2')
    expect(second.body.Resources[0].id).toBe(all.body.Resources[2].id)
    const past = await scim.get(`/Users?startIndex=${total + 1}&count=100`)
    expect(past.body).toEqual({
      schemas: [SCIM.list],
      totalResults: total,
      startIndex: total + 1,
      itemsPerPage: 0,
      Resources: [],
    })
    const none = await scim.get(q('userName eq "absent@x.example"'))
    expect(none.body).toEqual({
      schemas: [SCIM.list],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    })
    const countOnly = await scim.get('/Users?count=0')
    expect(countOnly.body).toMatchObject({ totalResults: total, itemsPerPage: 0, Resources: [] })
    expectScimError(await scim.get('/Users?count=ten'), 400, 'invalidValue')
    expect((await scim.get('/Users?count=5000')).body.itemsPerPage).toBe(Math.min(total, 200))
  })

  it('attributes and excludedAttributes choose what is returned (id always)', async () => {
    const only = await scim.get(`${q(`id eq "${made.alice!.id}"`)}&attributes=userName`)
    expect(only.body.Resources[0]).toEqual({
      schemas: [SCIM.user],
      id: made.alice!.id,
      userName: made.alice!.userName,
    })
    const without = await scim.get(`/Users/${made.alice!.id}?excludedAttributes=groups,meta`)
    expect(without.body.groups).toBeUndefined()
    expect(without.body.meta).toBeUndefined()
    expect(without.body.userName).toBe(made.alice!.userName)
  })

  it('an unknown id → 404 in the SCIM Error schema', async () => {
    expectScimError(await scim.get('/Users/mem_01JD4V6S9Y3T2WQ7P1J5KX8N0M'), 404)
  })
})

describe('PUT /Users/{id}', () => {
  it('replaces every attribute: absent ones are cleared, userName changes the email', async () => {
    const address = email('put')
    const created = (
      await scim.post(
        '/Users',
        newUser(address, { externalId: 'x-1', [SCIM.enterprise]: { department: 'R&D' } })
      )
    ).body
    const renamed = email('renamed')
    const res = await scim.put(`/Users/${created.id}`, {
      schemas: [SCIM.user],
      userName: renamed,
      name: { givenName: 'New' },
      active: true,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe('W/"2"')
    expect(res.body).toMatchObject({
      userName: renamed,
      displayName: 'New',
      name: { givenName: 'New' },
    })
    expect(res.body.externalId).toBeUndefined()
    expect(res.body.name.familyName).toBeUndefined()
    expect(res.body[SCIM.enterprise]).toBeUndefined()
    const member = (await admin.get(`/v1/members/${created.id}`)).body
    expect(member).toMatchObject({
      email: renamed,
      name: 'New',
      external_id: null,
      family_name: null,
    })
    // The old address is free again; the new one is taken.
    expect((await scim.post('/Users', newUser(address))).status).toBe(201)
    expectScimError(await scim.post('/Users', newUser(renamed)), 409, 'uniqueness')
  })

  it('a userName taken by another member → 409 uniqueness, nothing changes', async () => {
    const a = (await scim.post('/Users', newUser(email('a')))).body
    const b = (await scim.post('/Users', newUser(email('b')))).body
    const res = await scim.put(`/Users/${b.id}`, { ...newUser(a.userName), displayName: 'B2' })
    expectScimError(res, 409, 'uniqueness')
    expect((await scim.get(`/Users/${b.id}`)).body).toEqual(b)
  })

  it('If-Match with a stale version → 412', async () => {
    const user = (await scim.post('/Users', newUser(email()))).body
    const stale = await scim.put(`/Users/${user.id}`, newUser(user.userName), {
      'if-match': 'W/"7"',
    })
    expectScimError(stale, 412)
    const fresh = await scim.put(
      `/Users/${user.id}`,
      newUser(user.userName, { displayName: 'Z' }),
      {
        'if-match': user.meta.version,
      }
    )
    expect(fresh.status).toBe(200)
  })
})

describe('PATCH /Users/{id}', () => {
  let user: { id: string; userName: string }
  beforeAll(async () => {
    user = (await scim.post('/Users', newUser(email('patch'), { externalId: 'p-1' }))).body
  })
  const patch = (operations: unknown[], headers?: Record<string, string>) =>
    scim.patch(`/Users/${user.id}`, operations, headers)
  const memberStatus = async () => (await admin.get(`/v1/members/${user.id}`)).body.status

  it('Okta deactivates with a path-less replace; the Admin API shows the member deactivated', async () => {
    const res = await patch([{ op: 'replace', value: { active: false } }])
    expect(res.status).toBe(200)
    expect(res.body.active).toBe(false)
    expect(await memberStatus()).toBe('deactivated')
    const back = await patch([{ op: 'replace', value: { active: true } }])
    expect(back.body.active).toBe(true)
    expect(await memberStatus()).toBe('active')
  })

  it('Entra: capitalised ops, string booleans, paths', async () => {
    const off = await patch([{ op: 'Replace', path: 'active', value: 'False' }])
    expect(off.status, off.text).toBe(200)
    expect(off.body.active).toBe(false)
    expect(await memberStatus()).toBe('deactivated')
    const on = await patch([{ op: 'REPLACE', path: 'Active', value: 'True' }])
    expect(on.body.active).toBe(true)
    expect(await memberStatus()).toBe('active')
    const named = await patch([
      { op: 'Add', path: 'name.givenName', value: 'Ada' },
      { op: 'Replace', path: 'name.familyName', value: 'Lovelace' },
      { op: 'Replace', path: 'displayName', value: 'Ada Lovelace' },
      { op: 'Add', path: `${SCIM.enterprise}:department`, value: 'Analytical Engines' },
      { op: 'Add', path: `${SCIM.enterprise}:manager`, value: 'mgr-7' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: user.userName },
    ])
    expect(named.status, named.text).toBe(200)
    expect(named.body).toMatchObject({
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      displayName: 'Ada Lovelace',
      [SCIM.enterprise]: { department: 'Analytical Engines', manager: { value: 'mgr-7' } },
    })
    expect((await admin.get(`/v1/members/${user.id}`)).body).toMatchObject({
      name: 'Ada Lovelace',
      given_name: 'Ada',
      family_name: 'Lovelace',
    })
  })

  it('path-less values may name sub-attributes and extension attributes', async () => {
    const res = await patch([
      {
        op: 'replace',
        value: { 'name.givenName': 'Augusta', [`${SCIM.enterprise}:department`]: 'Math' },
      },
    ])
    expect(res.status, res.text).toBe(200)
    expect(res.body.name.givenName).toBe('Augusta')
    expect(res.body[SCIM.enterprise].department).toBe('Math')
  })

  it('remove clears an attribute; externalId changes move the lookup', async () => {
    const moved = await patch([{ op: 'replace', path: 'externalId', value: 'p-2' }])
    expect(moved.body.externalId).toBe('p-2')
    expect((await scim.get(q('externalId eq "p-1"'))).body.totalResults).toBe(0)
    expect((await scim.get(q('externalId eq "p-2"'))).body.Resources[0].id).toBe(user.id)
    const removed = await patch([{ op: 'remove', path: 'externalId' }])
    expect(removed.body.externalId).toBeUndefined()
    expect((await scim.get(q('externalId eq "p-2"'))).body.totalResults).toBe(0)
    expect((await admin.get(`/v1/members/${user.id}`)).body.external_id).toBeNull()
  })

  it('invalid operations → 400 with the right scimType, and nothing changes', async () => {
    const before = (await scim.get(`/Users/${user.id}`)).body
    expectScimError(
      await patch([{ op: 'merge', path: 'active', value: false }]),
      400,
      'invalidSyntax'
    )
    expectScimError(await patch([{ op: 'Remove' }]), 400, 'noTarget')
    expectScimError(await patch([{ op: 'add', path: 'displayName' }]), 400, 'invalidSyntax')
    expectScimError(
      await patch([
        { op: 'replace', path: 'emails[type eq "home"]', value: { value: 'x@y.example' } },
      ]),
      400,
      'noTarget'
    )
    expectScimError(
      await patch([{ op: 'add', path: 'groups', value: [{ value: 'grp_x' }] }]),
      400,
      'mutability'
    )
    expectScimError(
      await patch([{ op: 'replace', path: 'active', value: 'yes' }]),
      400,
      'invalidValue'
    )
    expectScimError(
      await scim.send('PATCH', `/Users/${user.id}`, { Operations: [] }),
      400,
      'invalidSyntax'
    )
    expectScimError(
      await patch([{ op: 'replace', value: { active: false } }], { 'if-match': 'W/"999"' }),
      412
    )
    expect((await scim.get(`/Users/${user.id}`)).body).toEqual(before)
  })
})

describe('DELETE /Users/{id}', () => {
  it('removes the member (204); afterwards 404 in both views', async () => {
    const user = (await scim.post('/Users', newUser(email('gone')))).body
    const res = await scim.delete(`/Users/${user.id}`)
    expect(res.status).toBe(204)
    expect(res.text).toBe('')
    expectScimError(await scim.get(`/Users/${user.id}`), 404)
    expect((await admin.get(`/v1/members/${user.id}`)).status).toBe(404)
    expectScimError(await scim.delete(`/Users/${user.id}`), 404)
    expect((await scim.post('/Users', newUser(user.userName))).status).toBe(201)
  })
})

describe('the Admin model’s rules hold through SCIM', () => {
  it('the last active organization_admin cannot be deactivated or deleted (409)', async () => {
    const boss = await admin.create('/v1/members', {
      email: email('boss'),
      name: 'Boss',
      org_role: 'organization_admin',
    })
    expectScimError(
      await scim.patch(`/Users/${boss.id}`, [{ op: 'replace', value: { active: false } }]),
      409
    )
    expectScimError(await scim.delete(`/Users/${boss.id}`), 409)
    expect((await admin.get(`/v1/members/${boss.id}`)).body.status).toBe('active')
    const deputy = await admin.create('/v1/members', {
      email: email('deputy'),
      name: 'Deputy',
      org_role: 'organization_admin',
    })
    const res = await scim.patch(`/Users/${boss.id}`, [{ op: 'replace', value: { active: false } }])
    expect(res.status).toBe(200)
    expect((await admin.get(`/v1/members/${deputy.id}`)).body.status).toBe('active')
  })

  it('every SCIM change is in the audit log with the SCIM token as actor', async () => {
    const user = (await scim.post('/Users', newUser(email('audited')))).body
    await scim.patch(`/Users/${user.id}`, [{ op: 'replace', value: { active: false } }])
    await scim.delete(`/Users/${user.id}`)
    const events = (await admin.get(`/v1/audit-events?target_id=${user.id}&limit=100`)).body.data
    const types = events.map((e: { event_type: string }) => e.event_type)
    expect(types).toEqual(
      expect.arrayContaining(['member.created', 'member.updated', 'member.removed'])
    )
    for (const event of events) expect(event.actor).toEqual({ type: 'scim_token', id: tokenId })
    const update = events.find((e: { event_type: string }) => e.event_type === 'member.updated')
    expect(update.before.status).toBe('active')
    expect(update.after.status).toBe('deactivated')
  })

  it('an Admin API change shows in SCIM at once (one model, two views)', async () => {
    const user = (await scim.post('/Users', newUser(email('both')))).body
    await admin.patch(`/v1/members/${user.id}`, { name: 'Renamed by admin', status: 'deactivated' })
    const seen = (await scim.get(`/Users/${user.id}`)).body
    expect(seen).toMatchObject({ displayName: 'Renamed by admin', active: false })
    expect(seen.meta.version).toBe('W/"2"')
  })
})
