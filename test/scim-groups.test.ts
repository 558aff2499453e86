import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, email, listAll } from './helpers/admin-model.js'
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
const users: { id: string; displayName: string }[] = []

beforeAll(async () => {
  h = await startHarness()
  const org = await createOrg(h)
  admin = as(h, org.adminKey)
  const token = await createScimToken(h, org.adminKey)
  tokenId = token.id
  scim = scimClient(h, token.secret)
  for (let i = 0; i < 4; i++) users.push((await scim.post('/Users', newUser(email('g')))).body)
})
afterAll(() => h.close())

let n = 0
const groupName = (prefix = 'Team') => `${prefix} ${++n}`
const adminMembers = async (groupId: string) =>
  (await listAll<{ id: string }>(admin, `/v1/groups/${groupId}/members`)).map((m) => m.id).sort()
const scimMembers = async (groupId: string) =>
  ((await scim.get(`/Groups/${groupId}`)).body.members ?? [])
    .map((m: { value: string }) => m.value)
    .sort()
const ids = (...indexes: number[]) => indexes.map((i) => users[i]!.id).sort()

describe('POST /Groups', () => {
  it('creates a group with no members (201) that the Admin API shows', async () => {
    const name = groupName('Engineering')
    const res = await scim.post('/Groups', {
      schemas: [SCIM.group],
      displayName: name,
      externalId: 'okta-grp-1',
      members: [],
    })
    expect(res.status).toBe(201)
    expect(res.headers.get('location')).toBe(`http://localhost/scim/v2/Groups/${res.body.id}`)
    expect(res.body).toMatchObject({
      schemas: [SCIM.group],
      displayName: name,
      externalId: 'okta-grp-1',
      members: [],
      meta: { resourceType: 'Group', version: 'W/"1"' },
    })
    expect((await admin.get(`/v1/groups/${res.body.id}`)).body).toMatchObject({
      name,
      external_id: 'okta-grp-1',
      scim_managed: true,
    })
  })

  it('creates a group with members', async () => {
    const res = await scim.post('/Groups', {
      displayName: groupName(),
      members: [{ value: users[0]!.id, display: 'x' }, { value: users[1]!.id }],
    })
    expect(res.status).toBe(201)
    expect(res.body.members.map((m: { value: string }) => m.value).sort()).toEqual(ids(0, 1))
    expect(res.body.members[0]).toMatchObject({
      type: 'User',
      $ref: expect.stringContaining('/Users/'),
    })
    expect(await adminMembers(res.body.id)).toEqual(ids(0, 1))
  })

  it('displayName is unique in any case (409 uniqueness), also against Admin API groups', async () => {
    const name = groupName('Unique')
    await scim.post('/Groups', { displayName: name })
    expectScimError(
      await scim.post('/Groups', { displayName: name.toUpperCase() }),
      409,
      'uniqueness'
    )
    const adminGroup = groupName('AdminMade')
    await admin.create('/v1/groups', { name: adminGroup })
    expectScimError(await scim.post('/Groups', { displayName: adminGroup }), 409, 'uniqueness')
  })

  it('unknown members, group members and missing names → 400, nothing created', async () => {
    const name = groupName('Refused')
    expectScimError(
      await scim.post('/Groups', { displayName: name, members: [{ value: 'mem_nope' }] }),
      400,
      'invalidValue'
    )
    expectScimError(
      await scim.post('/Groups', {
        displayName: name,
        members: [{ value: users[0]!.id, type: 'Group' }],
      }),
      400,
      'invalidValue'
    )
    expectScimError(await scim.post('/Groups', { members: [] }), 400, 'invalidValue')
    const found = await scim.get(`/Groups?filter=${encodeURIComponent(`displayName eq "${name}"`)}`)
    expect(found.body.totalResults).toBe(0)
  })
})

describe('GET /Groups', () => {
  it('Entra’s lookup: displayName eq with excludedAttributes=members', async () => {
    const name = groupName('Lookup')
    const created = (
      await scim.post('/Groups', { displayName: name, members: [{ value: users[2]!.id }] })
    ).body
    const res = await scim.get(
      `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`displayName eq "${name.toLowerCase()}"`)}`
    )
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ schemas: [SCIM.list], totalResults: 1, itemsPerPage: 1 })
    expect(res.body.Resources[0]).toMatchObject({ id: created.id, displayName: name })
    expect(res.body.Resources[0].members).toBeUndefined()
    const withMembers = await scim.get(
      `/Groups?filter=${encodeURIComponent(`displayName eq "${name}"`)}`
    )
    expect(withMembers.body.Resources[0].members.map((m: { value: string }) => m.value)).toEqual(
      ids(2)
    )
    const missing = await scim.get(
      `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "Nope Nope"')}`
    )
    expect(missing.body).toMatchObject({ totalResults: 0, Resources: [] })
  })

  it('filters on externalId and id, other operators on displayName; pages', async () => {
    const created = (
      await scim.post('/Groups', { displayName: groupName('Filter'), externalId: 'ext-g-9' })
    ).body
    const byExt = await scim.get(`/Groups?filter=${encodeURIComponent('externalId eq "ext-g-9"')}`)
    expect(byExt.body.Resources.map((g: { id: string }) => g.id)).toEqual([created.id])
    const byId = await scim.get(`/Groups?filter=${encodeURIComponent(`id eq "${created.id}"`)}`)
    expect(byId.body.totalResults).toBe(1)
    const sw = await scim.get(`/Groups?filter=${encodeURIComponent('displayName sw "filter "')}`)
    expect(sw.body.Resources.map((g: { id: string }) => g.id)).toEqual([created.id])
    const all = await scim.get('/Groups?excludedAttributes=members')
    const page = await scim.get('/Groups?excludedAttributes=members&startIndex=2&count=1')
    expect(page.body).toMatchObject({
      totalResults: all.body.totalResults,
      startIndex: 2,
      itemsPerPage: 1,
    })
    expect(page.body.Resources[0].id).toBe(all.body.Resources[1].id)
    expectScimError(
      await scim.get(`/Groups?filter=${encodeURIComponent('members.value eq "x"')}`),
      400,
      'invalidFilter'
    )
    expectScimError(await scim.get('/Groups/grp_01JD4V6S9Y3T2WQ7P1J5KX8N0M'), 404)
  })
})

describe('PATCH /Groups/{id}', () => {
  let group: { id: string; displayName: string }
  beforeAll(async () => {
    group = (await scim.post('/Groups', { displayName: groupName('Patch'), members: [] })).body
  })
  const patch = (operations: unknown[], query = '') =>
    scim.patch(`/Groups/${group.id}${query}`, operations)

  it('Okta: add and remove members with path "members" (204)', async () => {
    const added = await patch([
      {
        op: 'add',
        path: 'members',
        value: [
          { value: users[0]!.id, display: users[0]!.displayName },
          { value: users[1]!.id, display: users[1]!.displayName },
        ],
      },
    ])
    expect(added.status).toBe(204)
    expect(added.text).toBe('')
    expect(await adminMembers(group.id)).toEqual(ids(0, 1))
    const removed = await patch([
      { op: 'remove', path: 'members', value: [{ value: users[0]!.id, display: 'whatever' }] },
    ])
    expect(removed.status).toBe(204)
    expect(await adminMembers(group.id)).toEqual(ids(1))
    expect(await scimMembers(group.id)).toEqual(ids(1))
  })

  it('Entra: capitalised ops, members[value eq "…"] removal, several operations at once', async () => {
    const res = await patch([
      { op: 'Add', path: 'members', value: [{ value: users[2]!.id }] },
      { op: 'Add', path: 'members', value: [{ value: users[3]!.id }] },
      { op: 'Remove', path: `members[value eq "${users[1]!.id}"]` },
    ])
    expect(res.status).toBe(204)
    expect(await adminMembers(group.id)).toEqual(ids(2, 3))
    const user = (await scim.get(`/Users/${users[2]!.id}`)).body
    expect(user.groups.map((g: { value: string }) => g.value)).toContain(group.id)
    const byGroup = async (expression: string) =>
      (await scim.get(`/Users?filter=${encodeURIComponent(expression)}`)).body.Resources.map(
        (u: { id: string }) => u.id
      ).sort()
    expect(await byGroup(`groups.value eq "${group.id}"`)).toEqual(ids(2, 3))
    expect(await byGroup(`groups[display eq "${group.displayName.toUpperCase()}"]`)).toEqual(
      ids(2, 3)
    )
  })

  it('adding a member twice or removing a non-member succeeds and changes nothing', async () => {
    expect(
      (await patch([{ op: 'add', path: 'members', value: [{ value: users[2]!.id }] }])).status
    ).toBe(204)
    expect(
      (await patch([{ op: 'remove', path: 'members', value: [{ value: users[0]!.id }] }])).status
    ).toBe(204)
    expect(await adminMembers(group.id)).toEqual(ids(2, 3))
  })

  it('Okta renames with a path-less replace {id, displayName}; Entra with a path', async () => {
    const okta = groupName('Renamed')
    expect(
      (await patch([{ op: 'replace', value: { id: group.id, displayName: okta } }])).status
    ).toBe(204)
    expect((await admin.get(`/v1/groups/${group.id}`)).body.name).toBe(okta)
    const entra = groupName('Renamed again')
    const res = await patch(
      [{ op: 'Replace', path: 'displayName', value: entra }],
      '?excludedAttributes=members'
    )
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id: group.id, displayName: entra })
    expect(res.body.members).toBeUndefined()
    expect(await adminMembers(group.id)).toEqual(ids(2, 3))
  })

  it('replace members sets them; remove without a value removes them all', async () => {
    await patch([{ op: 'replace', path: 'members', value: [{ value: users[0]!.id }] }])
    expect(await adminMembers(group.id)).toEqual(ids(0))
    await patch([
      { op: 'replace', value: { members: [{ value: users[1]!.id }, { value: users[2]!.id }] } },
    ])
    expect(await adminMembers(group.id)).toEqual(ids(1, 2))
    await patch([{ op: 'remove', path: 'members' }])
    expect(await adminMembers(group.id)).toEqual([])
  })

  it('bad operations → 400, and nothing changes', async () => {
    await patch([{ op: 'add', path: 'members', value: [{ value: users[0]!.id }] }])
    const before = (await scim.get(`/Groups/${group.id}`)).body
    expectScimError(
      await patch([
        { op: 'add', path: 'members', value: [{ value: users[1]!.id }] },
        { op: 'add', path: 'members', value: [{ value: 'mem_01JD4V6S9Y3T2WQ7P1J5KX8N0M' }] },
      ]),
      400,
      'invalidValue'
    )
    expectScimError(
      await patch([{ op: 'remove', path: 'members[display eq "x"]' }]),
      400,
      'invalidFilter'
    )
    expectScimError(
      await patch([{ op: 'add', path: 'members.display', value: 'x' }]),
      400,
      'invalidPath'
    )
    expectScimError(
      await patch([{ op: 'replace', path: 'displayName', value: '' }]),
      400,
      'invalidValue'
    )
    expectScimError(
      await patch([{ op: 'copy', path: 'displayName', value: 'x' }]),
      400,
      'invalidSyntax'
    )
    expect((await scim.get(`/Groups/${group.id}`)).body).toEqual(before)
  })

  it('renaming to a taken name → 409 uniqueness', async () => {
    const other = (await scim.post('/Groups', { displayName: groupName('Taken') })).body
    expectScimError(
      await patch([{ op: 'replace', path: 'displayName', value: other.displayName.toLowerCase() }]),
      409,
      'uniqueness'
    )
  })
})

describe('PUT and DELETE /Groups/{id}', () => {
  it('PUT replaces name, externalId and members; subgroups made by the Admin API stay', async () => {
    const group = (
      await scim.post('/Groups', {
        displayName: groupName('Put'),
        externalId: 'e-1',
        members: [{ value: users[0]!.id }, { value: users[1]!.id }],
      })
    ).body
    const child = await admin.create('/v1/groups', { name: groupName('Child') })
    await admin.create(`/v1/groups/${group.id}/subgroups/${child.id}`, undefined, 'PUT')
    const name = groupName('Put renamed')
    const res = await scim.put(`/Groups/${group.id}`, {
      schemas: [SCIM.group],
      displayName: name,
      members: [{ value: users[1]!.id }, { value: users[3]!.id }],
    })
    expect(res.status).toBe(200)
    expect(res.body.externalId).toBeUndefined()
    expect(res.body.members.map((m: { value: string }) => m.value).sort()).toEqual(ids(1, 3))
    const viaAdmin = (await admin.get(`/v1/groups/${group.id}`)).body
    expect(viaAdmin).toMatchObject({ name, external_id: null, subgroup_ids: [child.id] })
    expect(await adminMembers(group.id)).toEqual(ids(1, 3))
  })

  it('DELETE removes the group (204) with its memberships', async () => {
    const group = (
      await scim.post('/Groups', {
        displayName: groupName('Doomed'),
        members: [{ value: users[0]!.id }],
      })
    ).body
    const res = await scim.delete(`/Groups/${group.id}`)
    expect(res.status).toBe(204)
    expectScimError(await scim.get(`/Groups/${group.id}`), 404)
    expect((await admin.get(`/v1/groups/${group.id}`)).status).toBe(404)
    const user = (await scim.get(`/Users/${users[0]!.id}`)).body
    expect(user.groups.map((g: { value: string }) => g.value)).not.toContain(group.id)
    expectScimError(await scim.delete(`/Groups/${group.id}`), 404)
  })

  it('every group change is audited with the SCIM token as actor', async () => {
    const group = (await scim.post('/Groups', { displayName: groupName('Audited') })).body
    await scim.patch(`/Groups/${group.id}`, [
      { op: 'add', path: 'members', value: [{ value: users[0]!.id }] },
    ])
    await scim.patch(`/Groups/${group.id}`, [
      { op: 'replace', path: 'displayName', value: groupName('Audited renamed') },
    ])
    await scim.delete(`/Groups/${group.id}`)
    const events = (await admin.get(`/v1/audit-events?target_id=${group.id}&limit=100`)).body.data
    expect(events.map((e: { event_type: string }) => e.event_type).sort()).toEqual(
      [
        'group.created',
        'group.deleted',
        'group.member_added',
        'group.member_removed',
        'group.updated',
      ].sort()
    )
    for (const event of events) expect(event.actor).toEqual({ type: 'scim_token', id: tokenId })
  })
})
