import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, listAll } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/**
 * The "done when": through the API alone, a realistic organization — 3 workspaces,
 * 20 members (some joining by invite), nested groups granting workspace roles and carrying org
 * roles, seats and API keys — and effective-access explains every member's roles exactly as an
 * independent model of the same data predicts.
 */
let h: Harness
let api: Caller
let org: Awaited<ReturnType<typeof createOrg>>

/** The independent model: what the test asked for, and what follows from it. */
const model = {
  orgRole: new Map<string, string>(),
  directGroups: new Map<string, Set<string>>(),
  parents: new Map<string, Set<string>>(),
  groupOrgRole: new Map<string, string | null>(),
  /** principal id → workspace id → roles */
  grants: new Map<string, Map<string, Set<string>>>(),
}

function grantInModel(principal: string, workspace: string, roles: string[]) {
  const byWs = model.grants.get(principal) ?? new Map<string, Set<string>>()
  byWs.set(workspace, new Set(roles))
  model.grants.set(principal, byWs)
}

/** Every group containing the member, by depth-first search over the model. */
function groupsOf(memberId: string): Set<string> {
  const seen = new Set<string>()
  const visit = (g: string) => {
    if (seen.has(g)) return
    seen.add(g)
    for (const p of model.parents.get(g) ?? []) visit(p)
  }
  for (const g of model.directGroups.get(memberId) ?? []) visit(g)
  return seen
}

/** "role<-source" strings: source is `direct` or the granting group's id. */
function expectedWorkspaceRoles(memberId: string): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>()
  const add = (principal: string, source: string) => {
    for (const [ws, roles] of model.grants.get(principal) ?? []) {
      const set = result.get(ws) ?? new Set<string>()
      for (const role of roles) set.add(`${role}<-${source}`)
      result.set(ws, set)
    }
  }
  add(memberId, 'direct')
  for (const g of groupsOf(memberId)) add(g, g)
  return result
}

function expectedOrgRoles(memberId: string): Set<string> {
  const roles = new Set([`${model.orgRole.get(memberId)}<-direct`])
  for (const g of groupsOf(memberId)) {
    const role = model.groupOrgRole.get(g)
    if (role) roles.add(`${role}<-${g}`)
  }
  return roles
}

const ws = {} as Record<'research' | 'product' | 'finance' | 'default', string>
const groups = {} as Record<
  'staff' | 'engineering' | 'platform' | 'ml' | 'researchers' | 'finance' | 'leads',
  string
>
const members: string[] = []

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h, 'Realistic Inc')
  api = as(h, org.adminKey)
  ws.default = org.defaultWorkspaceId
  for (const name of ['research', 'product', 'finance'] as const) {
    ws[name] = (await api.create('/v1/workspaces', { name })).id
  }
})
afterAll(() => h.close())

describe('a realistic organization built through the API', () => {
  it('builds 3 workspaces, 20 members, nested groups, grants, seats and keys', async () => {
    // 16 members added directly, 4 by invitation.
    for (let i = 0; i < 20; i++) {
      const orgRole = i < 2 ? 'organization_admin' : i === 2 ? 'billing_manager' : 'member'
      const address = `person${i}@realistic.example`
      const extra =
        i % 5 === 0 ? { workspaces: [{ workspace_id: ws.research, roles: ['dev'] }] } : {}
      let id: string
      if (i >= 16) {
        const invite = await api.create('/v1/invites', {
          email: address,
          org_role: orgRole,
          ...extra,
        })
        const accepted = await h.call('POST', '/v1/invites/accept', {
          body: { token: invite.token, name: `Person ${i}` },
        })
        expect(accepted.status).toBe(201)
        id = accepted.body.id
      } else {
        id = (
          await api.create('/v1/members', {
            email: address,
            name: `Person ${i}`,
            org_role: orgRole,
            ...extra,
          })
        ).id
      }
      members.push(id)
      model.orgRole.set(id, orgRole)
      model.directGroups.set(id, new Set())
      grantInModel(id, ws.default, ['workspace_contributor'])
      if (i % 5 === 0) grantInModel(id, ws.research, ['dev'])
    }

    const groupSpec = {
      staff: null,
      engineering: null,
      platform: null,
      ml: null,
      researchers: null,
      finance: 'billing_manager',
      leads: 'organization_admin',
    } as const
    for (const [key, orgRole] of Object.entries(groupSpec)) {
      const g = await api.create('/v1/groups', {
        name: `Group ${key}`,
        ...(orgRole ? { org_role: orgRole } : {}),
      })
      groups[key as keyof typeof groups] = g.id
      model.groupOrgRole.set(g.id, orgRole)
      model.parents.set(g.id, new Set())
    }
    // Nesting: platform, ml ⊂ engineering ⊂ staff; ml ⊂ researchers ⊂ staff; finance ⊂ staff.
    const nesting: [keyof typeof groups, keyof typeof groups][] = [
      ['staff', 'engineering'],
      ['engineering', 'platform'],
      ['engineering', 'ml'],
      ['researchers', 'ml'],
      ['staff', 'researchers'],
      ['staff', 'finance'],
    ]
    for (const [parent, child] of nesting) {
      await api.create(`/v1/groups/${groups[parent]}/subgroups/${groups[child]}`, undefined, 'PUT')
      model.parents.get(groups[child])!.add(groups[parent])
    }
    // A nesting that would close a cycle is refused and changes nothing.
    expect((await api.put(`/v1/groups/${groups.ml}/subgroups/${groups.staff}`)).status).toBe(409)

    // Memberships: everyone in one team; some in two.
    const teamOf = (i: number): (keyof typeof groups)[] => {
      if (i < 2) return ['leads', 'platform']
      if (i < 5) return ['finance']
      if (i < 10) return ['platform']
      if (i < 14) return ['ml']
      if (i < 17) return ['researchers', ...(i === 16 ? (['finance'] as const) : [])]
      return ['staff']
    }
    for (let i = 0; i < members.length; i++) {
      for (const team of teamOf(i)) {
        await api.create(`/v1/groups/${groups[team]}/members/${members[i]}`, undefined, 'PUT')
        model.directGroups.get(members[i]!)!.add(groups[team])
      }
    }

    // Grants to groups, and a few direct ones.
    const groupGrants: [keyof typeof groups, keyof typeof ws, string[]][] = [
      ['staff', 'product', ['user']],
      ['engineering', 'product', ['dev']],
      ['platform', 'research', ['observability_viewer']],
      ['ml', 'research', ['user', 'code_user']],
      ['researchers', 'research', ['dev']],
      ['finance', 'finance', ['billing']],
      ['leads', 'product', ['workspace_admin']],
    ]
    for (const [group, workspace, roles] of groupGrants) {
      await api.create(
        `/v1/workspaces/${ws[workspace]}/access/groups/${groups[group]}`,
        { roles },
        'PUT'
      )
      grantInModel(groups[group], ws[workspace], roles)
    }
    for (const i of [3, 7, 12]) {
      await api.create(
        `/v1/workspaces/${ws.finance}/access/members/${members[i]}`,
        { roles: ['billing', 'user'] },
        'PUT'
      )
      grantInModel(members[i]!, ws.finance, ['user', 'billing'])
    }
    await api.create(
      `/v1/workspaces/${ws.default}/access/members/${members[19]}`,
      { roles: ['user'] },
      'PUT'
    )
    grantInModel(members[19]!, ws.default, ['user'])

    // Seats: 12 chat, 5 code.
    await api.create('/v1/seats/chat', { purchased: 12 }, 'PUT')
    await api.create('/v1/seats/code', { purchased: 5 }, 'PUT')
    const chat = await Promise.all(members.map((m) => api.put(`/v1/members/${m}/seats/chat`)))
    expect(chat.filter((r) => r.status === 201)).toHaveLength(12)
    for (const m of members.slice(10, 15)) {
      expect((await api.put(`/v1/members/${m}/seats/code`)).status).toBe(201)
    }
    expect((await api.put(`/v1/members/${members[15]}/seats/code`)).status).toBe(409)
    const pools = (await api.get('/v1/seats')).body.data
    expect(
      pools.map((p: { product: string; assigned: number }) => [p.product, p.assigned])
    ).toEqual([
      ['chat', 12],
      ['code', 5],
    ])

    // API keys: one per workspace for a member, one service key without a member.
    for (const [i, workspace] of [
      [0, ws.product],
      [5, ws.research],
      [3, ws.finance],
    ] as const) {
      await api.create('/v1/api-keys', {
        name: `key ${i}`,
        workspace_id: workspace,
        member_id: members[i],
      })
    }
    await api.create('/v1/api-keys', { name: 'batch jobs', workspace_id: ws.research })
    expect(await listAll(api, '/v1/api-keys')).toHaveLength(4)
    expect(await listAll(api, `/v1/api-keys?member_id=${members[5]}`)).toHaveLength(1)
    expect(await listAll(api, '/v1/members')).toHaveLength(20)
  })

  it("explains every member's org and workspace roles as the model predicts", async () => {
    expect(members).toHaveLength(20)
    const names = new Map(Object.entries(ws).map(([name, id]) => [id, name]))
    for (const memberId of members) {
      const res = await api.get(`/v1/members/${memberId}/effective-access`)
      expect(res.status).toBe(200)
      const access = res.body
      type Source = { type: string; group_id?: string; path?: string[] }
      const sourceKey = (s: Source) => (s.type === 'direct' ? 'direct' : s.group_id!)
      // Org roles.
      const orgRoles = new Set<string>(
        access.org_roles.flatMap((r: { role: string; sources: Source[] }) =>
          r.sources.map((s) => `${r.role}<-${sourceKey(s)}`)
        )
      )
      expect(orgRoles, `org roles of ${memberId}`).toEqual(expectedOrgRoles(memberId))
      // Groups.
      expect(new Set(access.groups.map((g: { id: string }) => g.id))).toEqual(groupsOf(memberId))
      // Workspace roles, per workspace, with sources.
      const actual = new Map<string, Set<string>>()
      for (const w of access.workspaces) {
        actual.set(
          w.workspace_id,
          new Set(
            w.roles.flatMap((r: { role: string; sources: Source[] }) =>
              r.sources.map((s) => `${r.role}<-${sourceKey(s)}`)
            )
          )
        )
        expect(w.workspace_name).toBe(
          names.get(w.workspace_id) === 'default' ? 'Default' : names.get(w.workspace_id)
        )
      }
      expect(actual, `workspace roles of ${memberId}`).toEqual(expectedWorkspaceRoles(memberId))
      // Every group path is a real chain: starts at a direct group, each step a parent.
      for (const w of access.workspaces) {
        for (const r of w.roles) {
          for (const s of r.sources as Source[]) {
            if (s.type !== 'group') continue
            expect(model.directGroups.get(memberId)!.has(s.path![0]!)).toBe(true)
            for (let k = 1; k < s.path!.length; k++) {
              expect(model.parents.get(s.path![k - 1]!)!.has(s.path![k]!)).toBe(true)
            }
            expect(s.path!.at(-1)).toBe(s.group_id)
          }
        }
      }
    }
  })

  it('stays correct after the structure changes', async () => {
    // ML leaves Engineering; member 11 leaves ML; Finance loses its billing grant.
    await api.delete(`/v1/groups/${groups.engineering}/subgroups/${groups.ml}`)
    model.parents.get(groups.ml)!.delete(groups.engineering)
    await api.delete(`/v1/groups/${groups.ml}/members/${members[11]}`)
    model.directGroups.get(members[11]!)!.delete(groups.ml)
    await api.delete(`/v1/workspaces/${ws.finance}/access/groups/${groups.finance}`)
    model.grants.get(groups.finance)!.delete(ws.finance)
    for (const i of [1, 4, 11, 12, 16]) {
      const access = (await api.get(`/v1/members/${members[i]}/effective-access`)).body
      const actual = new Map<string, Set<string>>(
        access.workspaces.map(
          (w: {
            workspace_id: string
            roles: { role: string; sources: { type: string; group_id?: string }[] }[]
          }) => [
            w.workspace_id,
            new Set(
              w.roles.flatMap((r) =>
                r.sources.map((s) => `${r.role}<-${s.type === 'direct' ? 'direct' : s.group_id}`)
              )
            ),
          ]
        )
      )
      expect(actual, `member ${i}`).toEqual(expectedWorkspaceRoles(members[i]!))
    }
  })
})
