import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadAccessContext } from '../functions/domain/access.js'
import { Db } from '../functions/store/db.js'
import { as, type Caller, email } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/**
 * The reads a product decision will make (loadAccessContext) depend on the member's groups
 * only: growing the organization by members, workspaces, groups and grants adds none.
 */
let h: Harness
let api: Caller
let orgId: string
let requests = 0
let counting: Db
let ws: string
let member: string
const groups: Record<string, string> = {}

beforeAll(async () => {
  h = await startHarness()
  const org = await createOrg(h)
  orgId = org.id
  api = as(h, org.adminKey)
  const doc = new Proxy(h.db.doc, {
    get(target, property, receiver) {
      if (property === 'send') {
        return (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
          requests++
          return target.send(command)
        }
      }
      return Reflect.get(target, property, receiver)
    },
  })
  counting = new Db(doc, h.db.tableName)
  ws = (await api.create('/v1/workspaces', { name: 'Product' })).id
  member = (await api.create('/v1/members', { email: email(), name: 'Subject' })).id
  // member ∈ team ⊂ department ⊂ company, and member ∈ guild.
  for (const name of ['team', 'department', 'company', 'guild']) {
    groups[name] = (await api.create('/v1/groups', { name })).id
  }
  await api.create(`/v1/groups/${groups.department}/subgroups/${groups.team}`, undefined, 'PUT')
  await api.create(`/v1/groups/${groups.company}/subgroups/${groups.department}`, undefined, 'PUT')
  for (const g of [groups.team, groups.guild]) {
    await api.create(`/v1/groups/${g}/members/${member}`, undefined, 'PUT')
  }
  await api.create(`/v1/workspaces/${ws}/access/members/${member}`, { roles: ['user'] }, 'PUT')
  await api.create(`/v1/workspaces/${ws}/access/groups/${groups.team}`, { roles: ['dev'] }, 'PUT')
  await api.create(
    `/v1/workspaces/${ws}/access/groups/${groups.company}`,
    { roles: ['billing'] },
    'PUT'
  )
  await api.create('/v1/seats/chat', { purchased: 100 }, 'PUT')
  await api.create(`/v1/members/${member}/seats/chat`, undefined, 'PUT')
})
afterAll(() => h.close())

async function measure() {
  requests = 0
  const context = await loadAccessContext({ db: counting }, orgId, member, ws)
  return { context, requests }
}

describe('the decision read path', () => {
  it('reads the member, workspace, seats, one BatchGet per nesting level and the grants', async () => {
    const { context, requests: count } = await measure()
    expect(context.member?.id).toBe(member)
    expect(context.workspace?.id).toBe(ws)
    expect(context.seats.map((s) => s.product)).toEqual(['chat'])
    expect([...context.groups.keys()].sort()).toEqual(Object.values(groups).sort())
    expect(context.grants.map((g) => `${g.principal.id}:${g.roles.join('+')}`).sort()).toEqual(
      [`${member}:user`, `${groups.team}:dev`, `${groups.company}:billing`].sort()
    )
    // member + workspace + seats, 3 nesting levels (team/guild → department → company), grants.
    expect(count).toBe(3 + 3 + 1)
  })

  it('does not read more when the organization grows', async () => {
    const before = (await measure()).requests
    const workspaces = []
    for (let i = 0; i < 5; i++) {
      workspaces.push((await api.create('/v1/workspaces', { name: `W${i}` })).id)
    }
    for (let i = 0; i < 12; i++) {
      const other = await api.create('/v1/members', { email: email('crowd'), name: `Crowd ${i}` })
      await api.create(
        `/v1/workspaces/${ws}/access/members/${other.id}`,
        { roles: ['user'] },
        'PUT'
      )
      await api.create(
        `/v1/workspaces/${workspaces[i % 5]}/access/members/${other.id}`,
        { roles: ['dev'] },
        'PUT'
      )
      if (i % 4 === 0) {
        await api.create(`/v1/groups/${groups.team}/members/${other.id}`, undefined, 'PUT')
      }
    }
    for (let i = 0; i < 6; i++) {
      const g = await api.create('/v1/groups', { name: `Unrelated ${i}` })
      await api.create(`/v1/workspaces/${ws}/access/groups/${g.id}`, { roles: ['user'] }, 'PUT')
    }
    const after = await measure()
    expect(after.requests).toBe(before)
    expect(after.context.grants).toHaveLength(3)
  })

  it('a member being removed reads as absent', async () => {
    const leaver = await api.create('/v1/members', { email: email('leaver'), name: 'Leaver' })
    await api.delete(`/v1/members/${leaver.id}`)
    const context = await loadAccessContext({ db: counting }, orgId, leaver.id, ws)
    expect(context.member).toBeUndefined()
    expect(context.grants).toEqual([])
  })
})
