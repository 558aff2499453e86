import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import {
  createScimToken,
  expectScimError,
  newUser,
  SCIM,
  type ScimClient,
  scimClient,
} from './helpers/scim.js'

/**
 * Issue 13 item 8: SCIM as generic clients send it (RFC 7643/7644, the SCIM Verify suite), not
 * only as Okta and Entra do: userNames that are not email addresses, attributes fully qualified
 * under the core schema URN, group versions that follow membership, filter errors in plain
 * words, and Entra's member removal with the member in `value`.
 */
let h: Harness
let admin: Caller
let scim: ScimClient
let otherScim: ScimClient

beforeAll(async () => {
  h = await startHarness()
  const org = await createOrg(h, 'Generic')
  admin = as(h, org.adminKey)
  scim = scimClient(h, (await createScimToken(h, org.adminKey, 'Verify')).secret)
  const other = await createOrg(h, 'Other')
  otherScim = scimClient(h, (await createScimToken(h, other.adminKey)).secret)
})
afterAll(() => h.close())

let n = 0
const unique = (prefix: string) => `${prefix}${++n}`

describe('a userName that is not an email address', () => {
  it('is accepted with emails[{value, primary}]: the member’s email is the primary one', async () => {
    const userName = unique('bjensen')
    const res = await scim.post('/Users', {
      schemas: [SCIM.user],
      userName,
      name: { givenName: 'Barbara', familyName: 'Jensen' },
      emails: [
        { value: `${userName}@home.example`, type: 'home' },
        { value: `${userName}@work.example`, type: 'work', primary: true },
      ],
      active: true,
    })
    expect(res.status, res.text).toBe(201)
    expect(res.body.userName).toBe(userName)
    expect(res.body.emails).toEqual([
      { value: `${userName}@work.example`, type: 'work', primary: true },
    ])
    const member = (await admin.get(`/v1/members/${res.body.id}`)).body
    expect(member).toMatchObject({ email: `${userName}@work.example`, name: 'Barbara Jensen' })

    // Read back and found by its userName (any case), as a client checks before creating.
    expect((await scim.get(`/Users/${res.body.id}`)).body.userName).toBe(userName)
    const found = await scim.get(
      `/Users?filter=${encodeURIComponent(`userName eq "${userName.toUpperCase()}"`)}`
    )
    expect(found.body.Resources.map((u: { id: string }) => u.id)).toEqual([res.body.id])
    const byEmail = await scim.get(
      `/Users?filter=${encodeURIComponent(`emails.value eq "${userName}@work.example"`)}`
    )
    expect(byEmail.body.Resources.map((u: { id: string }) => u.id)).toEqual([res.body.id])
    // Another organization finds nothing under that name.
    const elsewhere = await otherScim.get(
      `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`
    )
    expect(elsewhere.body.totalResults).toBe(0)
  })

  it('takes the first work email, else the first, when none is primary', async () => {
    const userName = unique('kim')
    const res = await scim.post('/Users', {
      userName,
      emails: [
        { value: `${userName}@a.example`, type: 'other' },
        { value: `${userName}@b.example`, type: 'Work' },
      ],
    })
    expect(res.status, res.text).toBe(201)
    expect((await admin.get(`/v1/members/${res.body.id}`)).body.email).toBe(`${userName}@b.example`)
  })

  it('is unique regardless of case, and keeps working through PUT and PATCH', async () => {
    const userName = unique('Dana')
    const created = await scim.post('/Users', {
      userName,
      emails: [{ value: `${userName}@x.example`, primary: true }],
    })
    expect(created.status).toBe(201)
    expectScimError(
      await scim.post('/Users', {
        userName: userName.toLowerCase(),
        emails: [{ value: `other-${userName}@x.example`, primary: true }],
      }),
      409,
      'uniqueness'
    )
    const renamed = await scim.patch(`/Users/${created.body.id}`, [
      { op: 'replace', path: 'displayName', value: 'Dana D.' },
    ])
    expect(renamed.status, renamed.text).toBe(200)
    expect(renamed.body).toMatchObject({ userName, displayName: 'Dana D.' })
    // PUT with an email userName: that becomes the member's email, the old name is gone.
    const put = await scim.put(`/Users/${created.body.id}`, newUser(`dana-${n}@y.example`))
    expect(put.status, put.text).toBe(200)
    expect(put.body.userName).toBe(`dana-${n}@y.example`)
    const stale = await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`)
    expect(stale.body.totalResults).toBe(0)
  })

  it('without any email is refused in plain words, and nothing is created', async () => {
    const before = (await scim.get('/Users')).body.totalResults
    for (const body of [
      { userName: 'no-mail' },
      { userName: 'no-mail', emails: [] },
      { userName: 'no-mail', emails: [{ value: 'not an address', primary: true }] },
    ]) {
      const res = await scim.post('/Users', body)
      expectScimError(res, 400, 'invalidValue')
      expect(res.body.detail).toMatch(/not an email address/)
    }
    expect((await scim.get('/Users')).body.totalResults).toBe(before)
  })
})

describe('attributes fully qualified under the core schema URN', () => {
  it('are accepted in POST, PUT and PATCH of Users', async () => {
    const address = `${unique('urn')}@q.example`
    const created = await scim.post('/Users', {
      schemas: [SCIM.user, SCIM.enterprise],
      [SCIM.user]: {
        userName: address,
        name: { givenName: 'Quinn', familyName: 'Qualified' },
        active: true,
      },
      [SCIM.enterprise]: { department: 'Research' },
    })
    expect(created.status, created.text).toBe(201)
    expect(created.body).toMatchObject({
      userName: address,
      name: { givenName: 'Quinn', familyName: 'Qualified' },
      [SCIM.enterprise]: { department: 'Research' },
    })
    const id = created.body.id

    const put = await scim.put(`/Users/${id}`, {
      schemas: [SCIM.user],
      [`${SCIM.user}:userName`]: address,
      [`${SCIM.user}:displayName`]: 'Quinn Q.',
    })
    expect(put.status, put.text).toBe(200)
    expect(put.body.displayName).toBe('Quinn Q.')

    const patched = await scim.patch(`/Users/${id}`, [
      { op: 'replace', path: `${SCIM.user}:displayName`, value: 'Q. Qualified' },
      { op: 'replace', value: { [`${SCIM.user}:name`]: { givenName: 'Q' } } },
      { op: 'replace', path: SCIM.user, value: { active: false } },
    ])
    expect(patched.status, patched.text).toBe(200)
    expect(patched.body).toMatchObject({
      displayName: 'Q. Qualified',
      name: { givenName: 'Q' },
      active: false,
    })
    expect((await admin.get(`/v1/members/${id}`)).body).toMatchObject({
      name: 'Q. Qualified',
      status: 'deactivated',
    })
  })

  it('are accepted in POST, PUT and PATCH of Groups', async () => {
    const user = (await scim.post('/Users', newUser(`${unique('g')}@q.example`))).body
    const name = unique('Qualified team ')
    const created = await scim.post('/Groups', {
      schemas: [SCIM.group],
      [SCIM.group]: { displayName: name, members: [{ value: user.id }] },
    })
    expect(created.status, created.text).toBe(201)
    expect(created.body.displayName).toBe(name)
    expect(created.body.members.map((m: { value: string }) => m.value)).toEqual([user.id])

    const put = await scim.put(`/Groups/${created.body.id}`, {
      [`${SCIM.group}:displayName`]: `${name} (renamed)`,
      [`${SCIM.group}:members`]: [],
    })
    expect(put.status, put.text).toBe(200)
    expect(put.body).toMatchObject({ displayName: `${name} (renamed)`, members: [] })

    const patched = await scim.patch(`/Groups/${created.body.id}`, [
      { op: 'add', path: `${SCIM.group}:members`, value: [{ value: user.id }] },
      { op: 'replace', path: `${SCIM.group}:displayName`, value: `${name} again` },
    ])
    expect(patched.status, patched.text).toBe(204)
    const group = (await scim.get(`/Groups/${created.body.id}`)).body
    expect(group.displayName).toBe(`${name} again`)
    expect(group.members.map((m: { value: string }) => m.value)).toEqual([user.id])
  })
})

describe('group meta.version and ETag', () => {
  it('change when membership changes, so a stale If-Match is refused', async () => {
    const a = (await scim.post('/Users', newUser(`${unique('v')}@v.example`))).body
    const b = (await scim.post('/Users', newUser(`${unique('v')}@v.example`))).body
    const created = await scim.post('/Groups', { displayName: unique('Versioned ') })
    const id = created.body.id
    const versions = [created.body.meta.version]
    expect(created.headers.get('etag')).toBe(created.body.meta.version)

    const read = async () => {
      const res = await scim.get(`/Groups/${id}`)
      expect(res.headers.get('etag')).toBe(res.body.meta.version)
      return res.body.meta.version as string
    }
    const change = async (operations: unknown[]) => {
      const res = await scim.patch(`/Groups/${id}`, operations)
      expect(res.status, res.text).toBe(204)
      const version = await read()
      expect(versions, 'a membership change gives a new version').not.toContain(version)
      versions.push(version)
    }
    await change([{ op: 'add', path: 'members', value: [{ value: a.id }] }])
    await change([{ op: 'add', path: 'members', value: [{ value: b.id }] }])
    await change([{ op: 'remove', path: `members[value eq "${a.id}"]` }])
    await change([{ op: 'replace', path: 'members', value: [{ value: a.id }] }])
    // Through the Admin API too: the same group, the same version.
    expect((await admin.put(`/v1/groups/${id}/members/${b.id}`, {})).status).toBe(201)
    const afterAdmin = await read()
    expect(versions).not.toContain(afterAdmin)
    expect((await admin.get(`/v1/groups/${id}`)).body.version).toBe(
      Number(/\d+/.exec(afterAdmin)![0])
    )

    // A client holding a version from before a membership change cannot overwrite it.
    const stale = versions.at(-1)!
    expectScimError(
      await scim.patch(`/Groups/${id}`, [{ op: 'replace', path: 'members', value: [] }], {
        'if-match': stale,
      }),
      412
    )
    const res = await scim.patch(`/Groups/${id}`, [{ op: 'replace', path: 'members', value: [] }], {
      'if-match': afterAdmin,
    })
    expect(res.status, res.text).toBe(204)
    expect((await scim.get(`/Groups/${id}`)).body.members).toEqual([])
    // Removing someone who is not in it changes nothing, and keeps the version.
    const now = await read()
    await scim.patch(`/Groups/${id}`, [{ op: 'remove', path: `members[value eq "${b.id}"]` }])
    expect(await read()).toBe(now)
  })
})

describe('filter errors', () => {
  it('say what is wrong in plain words, with scimType invalidFilter', async () => {
    for (const [filter, words] of [
      ['userName eq', `'eq' after 'userName' needs a value`],
      ['userName eq bjensen', 'Text values go in double quotes: userName eq "bjensen"'],
      ['userName equals "b"', `'equals' (character 10) is not a SCIM comparison operator`],
      ['(userName eq "b"', `The '(' at character 1 is never closed`],
    ] as const) {
      const res = await scim.get(`/Users?filter=${encodeURIComponent(filter)}`)
      expectScimError(res, 400, 'invalidFilter')
      expect(res.body.detail).toContain(words)
      expect(res.body.detail).not.toMatch(/EOT|is not json/)
    }
    const group = (await scim.post('/Groups', { displayName: unique('Filtered ') })).body
    const res = await scim.patch(`/Groups/${group.id}`, [
      { op: 'remove', path: 'members[value eq ]' },
    ])
    expectScimError(res, 400, 'invalidFilter')
    expect(res.body.detail).toContain(`'eq' after 'value' needs a value`)
  })
})

describe('Entra’s member removal: path "members", the member in value', () => {
  it('removes only the members named, never everyone', async () => {
    const people = []
    for (let i = 0; i < 4; i++) {
      people.push((await scim.post('/Users', newUser(`${unique('e')}@entra.example`))).body.id)
    }
    const group = (
      await scim.post('/Groups', {
        displayName: unique('Entra team '),
        members: people.map((value) => ({ value })),
      })
    ).body
    const members = async () =>
      ((await scim.get(`/Groups/${group.id}`)).body.members ?? [])
        .map((m: { value: string }) => m.value)
        .sort()

    const remove = (value: unknown) =>
      scim.patch(`/Groups/${group.id}`, [{ op: 'Remove', path: 'members', value }])
    expect((await remove([{ value: people[0] }])).status).toBe(204)
    expect(await members()).toEqual([people[1], people[2], people[3]].sort())
    // One object instead of a list, and an id that is not a member: still only that one.
    expect((await remove({ value: people[1] })).status).toBe(204)
    expect((await remove([{ value: 'mem_00000000000000000000000000' }])).status).toBe(204)
    expect(await members()).toEqual([people[2], people[3]].sort())
    // An empty list removes nobody.
    expect((await remove([])).status).toBe(204)
    expect(await members()).toEqual([people[2], people[3]].sort())
    // A bad member value is refused, and nothing changes.
    expectScimError(await remove([{ display: 'no value' }]), 400, 'invalidValue')
    expect(await members()).toEqual([people[2], people[3]].sort())
  })
})
