import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { as, type Caller, listAll } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { inParallel, ok, phaseTimer } from './helpers/provisioning.js'
import { createScimToken, SCIM, type ScimClient, scimClient } from './helpers/scim.js'

/**
 * The issue's "done when" for Microsoft Entra: its provisioning service, following its
 * published SCIM guide (shared/reference/admin-apis-and-scim.md §4), creates, updates, disables
 * and groups 1,000 users with no answer it would treat as a failure — bodies as Entra sends
 * them (enterprise schema, `meta`, `roles: []`), capitalised ops, "False" as a string, group
 * lookups with `excludedAttributes=members`, membership adds of several values — and the Admin
 * API then shows exactly that organization.
 */
const USERS = 1000
const GROUPS = 4

let h: Harness
let admin: Caller
let entra: ScimClient

beforeAll(async () => {
  h = await startHarness()
  const org = await createOrg(h, 'Entra thousand')
  admin = as(h, org.adminKey)
  entra = scimClient(h, (await createScimToken(h, org.adminKey, 'Entra')).secret)
})
afterAll(() => h.close())

const upn = (i: number) => `user${String(i).padStart(4, '0')}@contoso.example`
const filter = (expression: string) => encodeURIComponent(expression)

it('creates, updates, disables and groups 1,000 users as Entra does', async () => {
  const { phase, report } = phaseTimer()
  const indexes = Array.from({ length: USERS }, (_, i) => i)

  // Match by userName (Entra's default matching attribute); create when nothing matches.
  const ids = await phase('provision (match + POST)', () =>
    inParallel(indexes, async (i) => {
      const match = ok(await entra.get(`/Users?filter=${filter(`userName eq "${upn(i)}"`)}`), 200)
      expect(match.body.Resources).toEqual([])
      const created = ok(
        await entra.post('/Users', {
          schemas: [SCIM.user, SCIM.enterprise],
          externalId: randomUUID(),
          userName: upn(i),
          active: true,
          emails: [{ primary: true, type: 'work', value: upn(i) }],
          meta: { resourceType: 'User' },
          name: { formatted: `Given${i} Family`, familyName: 'Family', givenName: `Given${i}` },
          roles: [],
          [SCIM.enterprise]: { department: `Dept ${i % GROUPS}` },
        }),
        201
      )
      return created.body.id as string
    })
  )
  expect(new Set(ids).size).toBe(USERS)

  // Attribute changes: capitalised Replace ops with paths, one PATCH per user.
  await phase('update 200 (PATCH Replace)', () =>
    inParallel(indexes.slice(0, 200), async (i) => {
      ok(
        await entra.patch(`/Users/${ids[i]}`, [
          { op: 'Replace', path: 'displayName', value: `Given${i} Renamed` },
          { op: 'Replace', path: 'name.familyName', value: 'Renamed' },
        ]),
        200,
        204
      )
    })
  )

  // Unassigned users are disabled, not deleted: Replace active with the string "False".
  const leavers = indexes.filter((i) => i % 10 === 3)
  await phase('disable 100', () =>
    inParallel(leavers, async (i) => {
      ok(
        await entra.patch(`/Users/${ids[i]}`, [{ op: 'Replace', path: 'active', value: 'False' }]),
        200,
        204
      )
    })
  )

  // Groups: match by displayName without members, create with no members, then add members.
  const groupIds = await phase(`groups: ${GROUPS} created, ${USERS} memberships`, async () => {
    const created: string[] = []
    for (let g = 0; g < GROUPS; g++) {
      const match = ok(
        await entra.get(
          `/Groups?excludedAttributes=members&filter=${filter(`displayName eq "Dept ${g}"`)}`
        ),
        200
      )
      expect(match.body.totalResults).toBe(0)
      const group = ok(
        await entra.post('/Groups', {
          schemas: [SCIM.group],
          externalId: randomUUID(),
          displayName: `Dept ${g}`,
          meta: { resourceType: 'Group' },
          members: [],
        }),
        201
      )
      created.push(group.body.id)
    }
    const batches = indexes
      .filter((i) => i % 10 === 0)
      .map((start) => ({
        group: created[Math.floor(start / 10) % GROUPS]!,
        slice: ids.slice(start, start + 10),
      }))
    await inParallel(batches, async ({ group, slice }) => {
      ok(
        await entra.patch(`/Groups/${group}`, [
          { op: 'Add', path: 'members', value: slice.map((value) => ({ value })) },
        ]),
        204
      )
    })
    return created
  })

  await phase('verify through the Admin API', async () => {
    const members = await listAll<{ id: string; status: string; name: string }>(
      admin,
      '/v1/members'
    )
    expect(members).toHaveLength(USERS)
    const disabled = members.filter((m) => m.status === 'deactivated').map((m) => m.id)
    expect(disabled.sort()).toEqual(leavers.map((i) => ids[i]!).sort())
    expect(members.filter((m) => m.name.endsWith('Renamed'))).toHaveLength(200)
    for (const groupId of groupIds) {
      expect(await listAll(admin, `/v1/groups/${groupId}/members`)).toHaveLength(USERS / GROUPS)
    }
  })

  console.log(`SCIM 1,000-user run as Entra (ms): ${JSON.stringify(report())}`)
}, 600_000)
