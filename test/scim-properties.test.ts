import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { as, listAll } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createScimToken, SCIM, type ScimClient, scimClient } from './helpers/scim.js'

/**
 * Property: whatever sequence of SCIM operations an identity provider sends (creating,
 * patching, replacing, deactivating and deleting users; creating, renaming, re-membering and
 * deleting groups), the SCIM view and the Admin API's view of members and groups are the same
 * afterwards, and no request fails with anything but a client error the provider caused.
 */
let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(() => h.close())

const EMAILS = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay'].map((n) => `${n}@prop.example`)
const NAMES = ['Red', 'Green', 'Blue', 'red', 'Teal']

type Op =
  | { kind: 'createUser'; email: number; active: boolean; externalId: string | null }
  | { kind: 'patchActive'; user: number; active: boolean; entra: boolean }
  | { kind: 'patchName'; user: number; displayName: string }
  | { kind: 'putUser'; user: number; email: number; displayName: string; active: boolean }
  | { kind: 'deleteUser'; user: number }
  | { kind: 'createGroup'; name: number; members: number[] }
  | { kind: 'renameGroup'; group: number; name: number }
  | { kind: 'addMembers'; group: number; users: number[] }
  | { kind: 'removeMembers'; group: number; users: number[]; byFilter: boolean }
  | { kind: 'putGroup'; group: number; name: number; users: number[] }
  | { kind: 'deleteGroup'; group: number }

const ref = fc.nat({ max: 20 })
const refs = fc.array(ref, { maxLength: 4 })
const displayName = fc.constantFrom('Ada', 'Grace', 'Alan', 'Edsger')

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('createUser' as const),
    email: fc.nat({ max: EMAILS.length - 1 }),
    active: fc.boolean(),
    externalId: fc.option(fc.constantFrom('x1', 'x2', 'x3'), { nil: null }),
  }),
  fc.record({
    kind: fc.constant('patchActive' as const),
    user: ref,
    active: fc.boolean(),
    entra: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('patchName' as const), user: ref, displayName }),
  fc.record({
    kind: fc.constant('putUser' as const),
    user: ref,
    email: fc.nat({ max: EMAILS.length - 1 }),
    displayName,
    active: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('deleteUser' as const), user: ref }),
  fc.record({
    kind: fc.constant('createGroup' as const),
    name: fc.nat({ max: NAMES.length - 1 }),
    members: refs,
  }),
  fc.record({
    kind: fc.constant('renameGroup' as const),
    group: ref,
    name: fc.nat({ max: NAMES.length - 1 }),
  }),
  fc.record({ kind: fc.constant('addMembers' as const), group: ref, users: refs }),
  fc.record({
    kind: fc.constant('removeMembers' as const),
    group: ref,
    users: refs,
    byFilter: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('putGroup' as const),
    group: ref,
    name: fc.nat({ max: NAMES.length - 1 }),
    users: refs,
  }),
  fc.record({ kind: fc.constant('deleteGroup' as const), group: ref })
)

/** Statuses a provider's own mistakes may get (a deleted id, a taken name); never a 5xx. */
const ACCEPTABLE = new Set([200, 201, 204, 400, 404, 409])

async function run(scim: ScimClient, ops: Op[]) {
  const userIds: string[] = []
  const groupIds: string[] = []
  const pick = (list: string[], index: number) =>
    list.length ? list[index % list.length] : undefined
  const send = async (
    request: Promise<{ status: number; text: string; body: { id?: string } }>
  ) => {
    const res = await request
    if (!ACCEPTABLE.has(res.status)) throw new Error(`unexpected ${res.status}: ${res.text}`)
    if (res.status === 400) expect(res.body).toMatchObject({ scimType: 'invalidValue' })
    return res
  }
  for (const step of ops) {
    switch (step.kind) {
      case 'createUser': {
        const res = await send(
          scim.post('/Users', {
            schemas: [SCIM.user],
            userName: EMAILS[step.email],
            active: step.active,
            ...(step.externalId ? { externalId: step.externalId } : {}),
          })
        )
        if (res.status === 201) userIds.push(res.body.id!)
        break
      }
      case 'patchActive': {
        const user = pick(userIds, step.user)
        if (!user) break
        const value = step.entra ? (step.active ? 'True' : 'False') : step.active
        await send(
          scim.patch(`/Users/${user}`, [
            step.entra
              ? { op: 'Replace', path: 'active', value }
              : { op: 'replace', value: { active: value } },
          ])
        )
        break
      }
      case 'patchName': {
        const user = pick(userIds, step.user)
        if (user) {
          await send(
            scim.patch(`/Users/${user}`, [
              { op: 'replace', path: 'displayName', value: step.displayName },
            ])
          )
        }
        break
      }
      case 'putUser': {
        const user = pick(userIds, step.user)
        if (user) {
          await send(
            scim.put(`/Users/${user}`, {
              schemas: [SCIM.user],
              userName: EMAILS[step.email],
              displayName: step.displayName,
              active: step.active,
            })
          )
        }
        break
      }
      case 'deleteUser': {
        const user = pick(userIds, step.user)
        if (user) await send(scim.delete(`/Users/${user}`))
        break
      }
      case 'createGroup': {
        const members = step.members.flatMap((i) => {
          const user = pick(userIds, i)
          return user ? [{ value: user }] : []
        })
        const res = await send(scim.post('/Groups', { displayName: NAMES[step.name], members }))
        if (res.status === 201) groupIds.push(res.body.id!)
        break
      }
      case 'renameGroup': {
        const group = pick(groupIds, step.group)
        if (group) {
          await send(
            scim.patch(`/Groups/${group}`, [
              { op: 'Replace', path: 'displayName', value: NAMES[step.name] },
            ])
          )
        }
        break
      }
      case 'addMembers':
      case 'removeMembers': {
        const group = pick(groupIds, step.group)
        const users = step.users.flatMap((i) => pick(userIds, i) ?? [])
        if (!group || users.length === 0) break
        if (step.kind === 'removeMembers' && step.byFilter) {
          await send(
            scim.patch(
              `/Groups/${group}`,
              users.map((user) => ({ op: 'Remove', path: `members[value eq "${user}"]` }))
            )
          )
        } else {
          await send(
            scim.patch(`/Groups/${group}`, [
              {
                op: step.kind === 'addMembers' ? 'add' : 'remove',
                path: 'members',
                value: users.map((value) => ({ value })),
              },
            ])
          )
        }
        break
      }
      case 'putGroup': {
        const group = pick(groupIds, step.group)
        if (!group) break
        const members = step.users.flatMap((i) => {
          const user = pick(userIds, i)
          return user ? [{ value: user }] : []
        })
        await send(scim.put(`/Groups/${group}`, { displayName: NAMES[step.name], members }))
        break
      }
      case 'deleteGroup': {
        const group = pick(groupIds, step.group)
        if (group) await send(scim.delete(`/Groups/${group}`))
        break
      }
    }
  }
}

async function scimView(scim: ScimClient) {
  const users = (await scim.get('/Users?count=200')).body.Resources
  const groups = (await scim.get('/Groups?count=200')).body.Resources
  return {
    users: users
      .map((u: Record<string, unknown>) => ({
        id: u.id,
        email: u.userName,
        name: u.displayName,
        active: u.active,
        external_id: u.externalId ?? null,
        groups: ((u.groups as { value: string }[]) ?? []).map((g) => g.value).sort(),
      }))
      .sort(byId),
    groups: groups
      .map((g: Record<string, unknown>) => ({
        id: g.id,
        name: g.displayName,
        members: ((g.members as { value: string }[]) ?? []).map((m) => m.value).sort(),
      }))
      .sort(byId),
  }
}

async function adminView(adminKey: string) {
  const api = as(h, adminKey)
  const members = await listAll<Record<string, unknown>>(api, '/v1/members')
  const groups = await listAll<Record<string, unknown>>(api, '/v1/groups')
  const memberSets = new Map<string, string[]>()
  for (const group of groups) {
    const inGroup = await listAll<{ id: string }>(api, `/v1/groups/${group.id}/members`)
    memberSets.set(group.id as string, inGroup.map((m) => m.id).sort())
  }
  return {
    users: members
      .map((m) => ({
        id: m.id,
        email: m.email,
        name: m.name,
        active: m.status === 'active',
        external_id: m.external_id,
        groups: [...memberSets]
          .filter(([, ids]) => ids.includes(m.id as string))
          .map(([id]) => id)
          .sort(),
      }))
      .sort(byId),
    groups: groups
      .map((g) => ({ id: g.id, name: g.name, members: memberSets.get(g.id as string)! }))
      .sort(byId),
  }
}

const byId = (a: { id: unknown }, b: { id: unknown }) => (String(a.id) < String(b.id) ? -1 : 1)

const reached = { users: 0, inactive: 0, groups: 0, memberships: 0 }

it('random SCIM operation sequences keep the SCIM and Admin API views identical', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 25 }), async (ops) => {
      const org = await createOrg(h, 'Property')
      const scim = scimClient(h, (await createScimToken(h, org.adminKey)).secret)
      await run(scim, ops)
      const seen = await scimView(scim)
      expect(seen).toEqual(await adminView(org.adminKey))
      reached.users += seen.users.length
      reached.inactive += seen.users.filter((u: { active: boolean }) => !u.active).length
      reached.groups += seen.groups.length
      reached.memberships += seen.groups.flatMap((g: { members: string[] }) => g.members).length
      // Case-insensitive uniqueness held: no two users share an email, no two groups a name.
      const emails = seen.users.map((u: { email: string }) => u.email.toLowerCase())
      expect(new Set(emails).size).toBe(emails.length)
      const names = seen.groups.map((g: { name: string }) => g.name.toLowerCase())
      expect(new Set(names).size).toBe(names.length)
    }),
    // A fixed default seed (SCIM_PROPERTY_SEED to try others): the vacuity checks below need
    // sequences that reach memberships, which an unlucky draw of 15 sometimes does not (seed 20261201, say).
    { numRuns: 15, seed: Number(process.env.SCIM_PROPERTY_SEED ?? 1) }
  )
  // The sequences really built organizations to compare (the property is not vacuous).
  expect(reached.users).toBeGreaterThan(0)
  expect(reached.inactive).toBeGreaterThan(0)
  expect(reached.groups).toBeGreaterThan(0)
  expect(reached.memberships).toBeGreaterThan(0)
}, 300_000)
