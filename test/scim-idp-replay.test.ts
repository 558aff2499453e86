import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import {
  createScimToken,
  expectScimError,
  SCIM,
  type ScimClient,
  scimClient,
} from './helpers/scim.js'

/**
 * The request sequences Okta and Microsoft Entra send, as their published SCIM guides and
 * Okta's SCIM 2.0 SPEC test describe them (see shared/reference/admin-apis-and-scim.md §4),
 * replayed body for body. Every answer is one the provider treats as success.
 */
let h: Harness
let admin: Caller

beforeAll(async () => {
  h = await startHarness()
})
afterAll(() => h.close())

const filter = (expression: string) => encodeURIComponent(expression)
const memberOf = async (id: string) => (await admin.get(`/v1/members/${id}`)).body
const groupMemberIds = async (groupId: string) =>
  (await admin.get(`/v1/groups/${groupId}/members?limit=100`)).body.data
    .map((m: { id: string }) => m.id)
    .sort()

describe('Okta', () => {
  let okta: ScimClient
  beforeAll(async () => {
    const org = await createOrg(h, 'Okta customer')
    admin = as(h, org.adminKey)
    okta = scimClient(h, (await createScimToken(h, org.adminKey, 'Okta')).secret)
  })

  it('passes the SPEC test: list, random filter, unknown id, create, duplicate, case check', async () => {
    const seed = await okta.post('/Users', {
      schemas: [SCIM.user],
      userName: 'seed@okta.example',
      name: { givenName: 'Seed', familyName: 'User' },
      emails: [{ primary: true, value: 'seed@okta.example', type: 'work' }],
      active: true,
    })
    expect(seed.status).toBe(201)
    // 1. GET /Users?count=1&startIndex=1: numeric paging fields; a user with the basics.
    const first = await okta.get('/Users?count=1&startIndex=1')
    expect(first.status).toBe(200)
    for (const field of ['totalResults', 'itemsPerPage', 'startIndex']) {
      expect(Number.isInteger(first.body[field])).toBe(true)
    }
    const [user] = first.body.Resources
    expect(user).toMatchObject({
      id: expect.any(String),
      userName: expect.any(String),
      active: true,
    })
    expect(user.name).toBeDefined()
    expect(user.emails[0].value).toEqual(expect.any(String))
    // 2. A random userName: totalResults 0. An unknown id: 404 with detail.
    const random = await okta.get(
      `/Users?filter=${filter(`userName eq "${randomUUID()}@okta.example"`)}`
    )
    expect(random.body.totalResults).toBe(0)
    expectScimError(await okta.get(`/Users/${randomUUID()}`), 404)
    // 3. POST → 201 active with id; GET verifies; the same POST again → 409.
    const body = {
      schemas: [SCIM.user],
      userName: `spec-${randomUUID()}@okta.example`,
      name: { givenName: 'Spec', familyName: 'Test' },
      emails: [{ primary: true, value: 'spec@okta.example', type: 'work' }],
      active: true,
      password: 'never-stored-1!',
    }
    const created = await okta.post('/Users', body)
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ active: true, id: expect.any(String) })
    expect(JSON.stringify(created.body)).not.toContain('never-stored')
    expect((await okta.get(`/Users/${created.body.id}`)).body.userName).toBe(body.userName)
    expectScimError(await okta.post('/Users', body), 409, 'uniqueness')
    // 4. Username case sensitivity check: the upper-cased userName filter → 200 with the user.
    const upper = await okta.get(
      `/Users?filter=${filter(`userName eq "${body.userName.toUpperCase()}"`)}`
    )
    expect(upper.status).toBe(200)
    expect(upper.body.Resources[0].id).toBe(created.body.id)
  })

  it('provisions: lookup by userName, then POST; updates by PUT and PATCH', async () => {
    const userName = 'dana@okta.example'
    const lookup = await okta.get(
      `/Users?filter=${filter(`userName eq "${userName}"`)}&startIndex=1&count=100`
    )
    expect(lookup.body).toMatchObject({ totalResults: 0, Resources: [] })
    const created = await okta.post('/Users', {
      schemas: [SCIM.user],
      userName,
      name: { givenName: 'Dana', familyName: 'Scully' },
      emails: [{ primary: true, value: userName, type: 'work' }],
      displayName: 'Dana Scully',
      locale: 'en-US',
      externalId: '00u1dana',
      groups: [],
      active: true,
    })
    expect(created.status).toBe(201)
    const id = created.body.id
    // AIW apps: PUT the whole user.
    const put = await okta.put(`/Users/${id}`, {
      schemas: [SCIM.user],
      id,
      userName,
      name: { givenName: 'Dana', familyName: 'Mulder' },
      emails: [{ primary: true, value: userName, type: 'work' }],
      displayName: 'Dana Mulder',
      externalId: '00u1dana',
      active: true,
      meta: created.body.meta,
    })
    expect(put.status).toBe(200)
    // OIN apps: PATCH replace without a path.
    const patched = await okta.patch(`/Users/${id}`, [
      { op: 'replace', value: { name: { givenName: 'Dana', familyName: 'Katherine' } } },
    ])
    expect(patched.status).toBe(200)
    expect(patched.body.name).toMatchObject({ givenName: 'Dana', familyName: 'Katherine' })
    expect(await memberOf(id)).toMatchObject({
      email: userName,
      family_name: 'Katherine',
      external_id: '00u1dana',
      scim_managed: true,
    })
  })

  it('deactivates with PATCH replace {active:false} and reactivates; never DELETEs', async () => {
    const created = await okta.post('/Users', {
      schemas: [SCIM.user],
      userName: 'leaver@okta.example',
      name: { givenName: 'Lea', familyName: 'Ver' },
      emails: [{ primary: true, value: 'leaver@okta.example', type: 'work' }],
      active: true,
    })
    const id = created.body.id
    const off = await okta.patch(`/Users/${id}`, [{ op: 'replace', value: { active: false } }])
    expect(off.status).toBe(200)
    expect(off.body.active).toBe(false)
    // The member is deactivated: /v1/authorize denies every product action to them.
    expect((await memberOf(id)).status).toBe('deactivated')
    // Inactive users are still listed (Okta re-imports them).
    const listed = await okta.get(`/Users?filter=${filter('userName eq "leaver@okta.example"')}`)
    expect(listed.body.Resources[0].active).toBe(false)
    const on = await okta.patch(`/Users/${id}`, [{ op: 'replace', value: { active: true } }])
    expect(on.body.active).toBe(true)
    expect((await memberOf(id)).status).toBe('active')
  })

  it('pushes a group: POST with no members, add/remove members, rename, unlink (DELETE)', async () => {
    const people: { id: string; displayName: string }[] = []
    for (const name of ['p1', 'p2', 'p3']) {
      const res = await okta.post('/Users', {
        schemas: [SCIM.user],
        userName: `${name}@okta.example`,
        name: { givenName: name, familyName: 'Push' },
        emails: [{ primary: true, value: `${name}@okta.example`, type: 'work' }],
        displayName: `${name} Push`,
        active: true,
      })
      people.push(res.body)
    }
    const group = await okta.post('/Groups', {
      schemas: [SCIM.group],
      displayName: 'Okta Pushed',
      members: [],
    })
    expect(group.status).toBe(201)
    const gid = group.body.id
    const add = await okta.patch(`/Groups/${gid}`, [
      {
        op: 'add',
        path: 'members',
        value: people.map((p) => ({ value: p.id, display: p.displayName })),
      },
    ])
    expect([200, 204]).toContain(add.status)
    expect(await groupMemberIds(gid)).toEqual(people.map((p) => p.id).sort())
    const rename = await okta.patch(`/Groups/${gid}`, [
      { op: 'replace', value: { id: gid, displayName: 'Okta Pushed (renamed)' } },
    ])
    expect([200, 204]).toContain(rename.status)
    const remove = await okta.patch(`/Groups/${gid}`, [
      {
        op: 'remove',
        path: 'members',
        value: [{ value: people[0]!.id, display: people[0]!.displayName }],
      },
    ])
    expect([200, 204]).toContain(remove.status)
    expect(await groupMemberIds(gid)).toEqual([people[1]!.id, people[2]!.id].sort())
    expect((await admin.get(`/v1/groups/${gid}`)).body.name).toBe('Okta Pushed (renamed)')
    expect((await okta.delete(`/Groups/${gid}`)).status).toBe(204)
    expect((await admin.get(`/v1/groups/${gid}`)).status).toBe(404)
  })

  it('imports with count=100 and startIndex += 100 until totalResults', async () => {
    const seen: string[] = []
    let startIndex = 1
    let total = Number.POSITIVE_INFINITY
    while (startIndex <= total) {
      const page = await okta.get(`/Users?startIndex=${startIndex}&count=100`)
      expect(page.status).toBe(200)
      total = page.body.totalResults
      seen.push(...page.body.Resources.map((u: { id: string }) => u.id))
      startIndex += 100
    }
    const members = (await admin.get('/v1/members?limit=100')).body.data.map(
      (m: { id: string }) => m.id
    )
    expect(seen.sort()).toEqual(members.sort())
  })
})

describe('Microsoft Entra', () => {
  let entra: ScimClient
  beforeAll(async () => {
    const org = await createOrg(h, 'Entra customer')
    admin = as(h, org.adminKey)
    entra = scimClient(h, (await createScimToken(h, org.adminKey, 'Entra')).secret)
  })

  it('test connection: probes a random user and group by filter, gets empty ListResponses', async () => {
    const user = await entra.get(`/Users?filter=${filter(`userName eq "${randomUUID()}"`)}`)
    expect(user.status).toBe(200)
    expect(user.body).toEqual({
      schemas: [SCIM.list],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    })
    const group = await entra.get(
      `/Groups?excludedAttributes=members&filter=${filter(`displayName eq "${randomUUID()}"`)}`
    )
    expect(group.status).toBe(200)
    expect(group.body.totalResults).toBe(0)
    expect((await entra.get('/Schemas')).status).toBe(200)
  })

  it('creates, updates, disables with "False", enables with "True", hard-deletes', async () => {
    const upn = 'ryan@entra.example'
    expect(
      (await entra.get(`/Users?filter=${filter(`userName eq "${upn}"`)}`)).body.totalResults
    ).toBe(0)
    const created = await entra.post('/Users', {
      schemas: [SCIM.user, SCIM.enterprise],
      externalId: 'ryan',
      userName: upn,
      active: true,
      displayName: 'Ryan Howard',
      emails: [{ primary: true, type: 'work', value: upn }],
      meta: { resourceType: 'User' },
      name: { formatted: 'Ryan Howard', familyName: 'Howard', givenName: 'Ryan' },
      title: 'Temp',
      preferredLanguage: 'en-US',
      [SCIM.enterprise]: { employeeNumber: '1001', department: 'Sales' },
    })
    expect(created.status).toBe(201)
    const id = created.body.id
    // Matching by externalId and by the work email, as Entra can be configured to.
    expect(
      (await entra.get(`/Users?filter=${filter('externalId eq "ryan"')}`)).body.Resources[0].id
    ).toBe(id)
    expect(
      (await entra.get(`/Users?filter=${filter(`emails[type eq "work"].value eq "${upn}"`)}`)).body
        .Resources[0].id
    ).toBe(id)
    const update = await entra.patch(`/Users/${id}`, [
      { op: 'Replace', path: 'displayName', value: 'Ryan B. Howard' },
      { op: 'Replace', path: 'name.givenName', value: 'Ryan B.' },
      { op: 'Add', path: `${SCIM.enterprise}:department`, value: 'Corporate' },
      { op: 'Add', path: `${SCIM.enterprise}:manager`, value: 'mgr-michael' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: upn },
    ])
    expect(update.status).toBe(200)
    expect(update.body).toMatchObject({
      displayName: 'Ryan B. Howard',
      [SCIM.enterprise]: { department: 'Corporate', manager: { value: 'mgr-michael' } },
    })
    const disable = await entra.patch(`/Users/${id}`, [
      { op: 'Replace', path: 'active', value: 'False' },
    ])
    expect(disable.status).toBe(200)
    expect((await memberOf(id)).status).toBe('deactivated')
    const enable = await entra.patch(`/Users/${id}`, [
      { op: 'Replace', path: 'active', value: 'True' },
    ])
    expect(enable.body.active).toBe(true)
    expect((await memberOf(id)).status).toBe('active')
    // With the aadOptscim062020 flag the value is a real boolean.
    await entra.patch(`/Users/${id}`, [{ op: 'replace', path: 'active', value: false }])
    expect((await memberOf(id)).status).toBe('deactivated')
    expect((await entra.delete(`/Users/${id}`)).status).toBe(204)
    expect((await admin.get(`/v1/members/${id}`)).status).toBe(404)
  })

  it('groups: lookup with excludedAttributes, create empty, Add/Remove members (204), rename', async () => {
    const ids: string[] = []
    for (const name of ['kelly', 'toby']) {
      const res = await entra.post('/Users', {
        schemas: [SCIM.user],
        externalId: name,
        userName: `${name}@entra.example`,
        active: true,
        displayName: name,
      })
      ids.push(res.body.id)
    }
    const lookup = await entra.get(
      `/Groups?excludedAttributes=members&filter=${filter('displayName eq "Annex"')}`
    )
    expect(lookup.body.totalResults).toBe(0)
    const group = await entra.post('/Groups', {
      externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
      displayName: 'Annex',
      meta: { resourceType: 'Group' },
      members: [],
      schemas: [SCIM.group],
    })
    expect(group.status).toBe(201)
    const gid = group.body.id
    const add = await entra.patch(`/Groups/${gid}`, [
      { op: 'Add', path: 'members', value: [{ value: ids[0] }] },
      { op: 'Add', path: 'members', value: [{ value: ids[1] }] },
    ])
    expect(add.status).toBe(204)
    expect(await groupMemberIds(gid)).toEqual([...ids].sort())
    const remove = await entra.patch(`/Groups/${gid}`, [
      { op: 'Remove', path: 'members', value: [{ value: ids[0] }] },
    ])
    expect(remove.status).toBe(204)
    const removeFlag = await entra.patch(`/Groups/${gid}`, [
      { op: 'Remove', path: `members[value eq "${ids[1]}"]` },
    ])
    expect(removeFlag.status).toBe(204)
    expect(await groupMemberIds(gid)).toEqual([])
    const rename = await entra.patch(`/Groups/${gid}`, [
      { op: 'Replace', path: 'displayName', value: 'The Annex' },
    ])
    expect(rename.status).toBe(204)
    const found = await entra.get(
      `/Groups?excludedAttributes=members&filter=${filter('displayName eq "The Annex"')}`
    )
    expect(found.body.Resources.map((g: { id: string }) => g.id)).toEqual([gid])
    expect((await entra.delete(`/Groups/${gid}`)).status).toBe(204)
  })
})
