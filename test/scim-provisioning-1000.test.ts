import { afterAll, beforeAll, expect, it } from 'vitest'
import { as, type Caller, listAll } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { inParallel, ok, phaseTimer } from './helpers/provisioning.js'
import { createScimToken, SCIM, type ScimClient, scimClient } from './helpers/scim.js'

/**
 * The issue's "done when": an identity provider following Okta's published SCIM behaviour
 * provisions, updates, deactivates and groups 1,000 users with no answer it would treat as a
 * failure, and the Admin API then shows exactly that organization. Requests go four at a time,
 * as a provider's provisioning workers do. Entra's sequence at the same scale:
 * scim-provisioning-1000-entra.test.ts. The duration of each phase is printed.
 */
const USERS = 1000
const GROUPS = 5

let h: Harness
let admin: Caller
let okta: ScimClient

beforeAll(async () => {
  h = await startHarness()
  const org = await createOrg(h, 'Thousand')
  admin = as(h, org.adminKey)
  okta = scimClient(h, (await createScimToken(h, org.adminKey, 'Okta')).secret)
})
afterAll(() => h.close())

const userName = (i: number) => `user${String(i).padStart(4, '0')}@thousand.example`

it('provisions, imports, updates, deactivates and groups 1,000 users as Okta does', async () => {
  const { phase, report } = phaseTimer()
  const indexes = Array.from({ length: USERS }, (_, i) => i)

  // Create-if-absent: lookup by userName filter, then POST.
  const ids = await phase('provision (lookup + POST)', () =>
    inParallel(indexes, async (i) => {
      const lookup = ok(
        await okta.get(
          `/Users?filter=${encodeURIComponent(`userName eq "${userName(i)}"`)}&startIndex=1&count=100`
        ),
        200
      )
      expect(lookup.body.totalResults).toBe(0)
      const created = ok(
        await okta.post('/Users', {
          schemas: [SCIM.user],
          userName: userName(i),
          name: { givenName: `User${i}`, familyName: 'Thousand' },
          emails: [{ primary: true, value: userName(i), type: 'work' }],
          displayName: `User${i} Thousand`,
          externalId: `00u${i}`,
          active: true,
        }),
        201
      )
      return created.body.id as string
    })
  )
  expect(new Set(ids).size).toBe(USERS)

  // Import: count=100, startIndex += 100, integer paging fields.
  const imported = await phase('import (10 pages of 100)', async () => {
    const seen: string[] = []
    for (let startIndex = 1; startIndex <= USERS; startIndex += 100) {
      const page = ok(await okta.get(`/Users?startIndex=${startIndex}&count=100`), 200)
      expect(page.body).toMatchObject({ totalResults: USERS, startIndex, itemsPerPage: 100 })
      seen.push(...page.body.Resources.map((u: { id: string }) => u.id))
    }
    return seen
  })
  expect(imported).toEqual([...ids].sort())

  // Update 200 profiles (OIN apps PATCH; AIW apps PUT).
  await phase('update 200 (100 PATCH + 100 PUT)', () =>
    inParallel(indexes.slice(0, 200), async (i) => {
      if (i % 2 === 0) {
        ok(
          await okta.patch(`/Users/${ids[i]}`, [
            { op: 'replace', value: { displayName: `User${i} Updated` } },
          ]),
          200
        )
      } else {
        ok(
          await okta.put(`/Users/${ids[i]}`, {
            schemas: [SCIM.user],
            userName: userName(i),
            name: { givenName: `User${i}`, familyName: 'Updated' },
            displayName: `User${i} Updated`,
            externalId: `00u${i}`,
            active: true,
          }),
          200
        )
      }
    })
  )

  // Deactivate 100: PATCH replace {active:false} without a path.
  const leavers = indexes.filter((i) => i % 10 === 9)
  await phase('deactivate 100', () =>
    inParallel(leavers, async (i) => {
      const res = ok(
        await okta.patch(`/Users/${ids[i]}`, [{ op: 'replace', value: { active: false } }]),
        200
      )
      expect(res.body.active).toBe(false)
    })
  )

  // Push groups: POST with no members, then membership PATCHes of 100 values.
  const groupIds = await phase(`push ${GROUPS} groups with ${USERS} memberships`, async () => {
    const created: string[] = []
    for (let g = 0; g < GROUPS; g++) {
      const res = ok(
        await okta.post('/Groups', {
          schemas: [SCIM.group],
          displayName: `Dept ${g}`,
          members: [],
        }),
        201
      )
      created.push(res.body.id)
    }
    const batches = indexes
      .filter((i) => i % 100 === 0)
      .map((start) => ({
        group: created[(start / 100) % GROUPS]!,
        slice: ids.slice(start, start + 100),
      }))
    await inParallel(batches, async ({ group, slice }) => {
      ok(
        await okta.patch(`/Groups/${group}`, [
          { op: 'add', path: 'members', value: slice.map((value) => ({ value, display: value })) },
        ]),
        200,
        204
      )
    })
    return created
  })

  // The Admin API's view: 1,000 members, 100 deactivated, 200 in each group.
  await phase('verify through the Admin API', async () => {
    const members = await listAll<{ id: string; status: string; name: string }>(
      admin,
      '/v1/members'
    )
    expect(members).toHaveLength(USERS)
    const deactivated = members.filter((m) => m.status === 'deactivated').map((m) => m.id)
    expect(deactivated.sort()).toEqual(leavers.map((i) => ids[i]!).sort())
    expect(members.filter((m) => m.name.endsWith('Updated'))).toHaveLength(200)
    for (const groupId of groupIds) {
      const inGroup = await listAll(admin, `/v1/groups/${groupId}/members`)
      expect(inGroup).toHaveLength(USERS / GROUPS)
    }
    const scimGroup = ok(await okta.get(`/Groups/${groupIds[0]}`), 200)
    expect(scimGroup.body.members).toHaveLength(USERS / GROUPS)
  })

  console.log(`SCIM 1,000-user run as Okta (ms): ${JSON.stringify(report())}`)
}, 600_000)
