import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ORG_ROLES, PRODUCT_ACTIONS, WORKSPACE_ROLES } from '../functions/model/index.js'
import { as, type Caller, email, expectOk, listAll } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey } from './helpers/usage.js'

/**
 * Differential property test of the reverse queries: random organizations (org roles, nested
 * groups with org roles, grants to members and groups, deactivated members, archived
 * workspaces, API keys live and revoked, and custom policies — permits that widen access and
 * forbids that narrow it, beside the built-in guardrails) are built through the Admin API; then
 * every page of authorized-principals (each workspace × action) and authorized-workspaces
 * (each member × action), at a random page size, must be exactly the principals / workspaces
 * that POST /v1/authorize/batch allows.
 */

/** Custom policies a run may install (each passes strict validation). */
const POLICY_POOL: Record<string, string> = {
  'no-dev-studio':
    'forbid (principal, action == Action::"use_studio", resource) when { principal in resource.roles.dev };',
  'billing-chat':
    'permit (principal is Member, action == Action::"use_chat", resource) when { principal in OrgRole::"billing_manager" };',
  'keys-code': 'permit (principal is ApiKey, action == Action::"use_code", resource);',
  'no-default-invoke':
    'forbid (principal is ApiKey, action == Action::"invoke_model", resource) when { resource.is_default };',
  'observers-usage':
    'permit (principal, action == Action::"read_usage", resource) when { principal in resource.roles.observability_viewer };',
}

interface Model {
  extraWorkspaces: { archived: boolean }[]
  groups: { orgRole: string | null; parent: number | null }[]
  members: { orgRole: string; active: boolean; groups: number[] }[]
  grants: { workspace: number; toGroup: boolean; index: number; roles: string[] }[]
  keys: { workspace: number; revoked: boolean }[]
  policies: string[]
}

const model: fc.Arbitrary<Model> = fc.record({
  extraWorkspaces: fc.array(fc.record({ archived: fc.boolean() }), { minLength: 1, maxLength: 2 }),
  groups: fc.array(
    fc.record({
      orgRole: fc.option(fc.constantFrom(...ORG_ROLES), { freq: 3 }),
      parent: fc.option(fc.nat(), { freq: 2 }),
    }),
    { minLength: 1, maxLength: 3 }
  ),
  members: fc.array(
    fc.record({
      orgRole: fc.constantFrom('member', 'member', ...ORG_ROLES),
      active: fc.constantFrom(true, true, false),
      groups: fc.array(fc.nat(), { maxLength: 2 }),
    }),
    { minLength: 1, maxLength: 4 }
  ),
  grants: fc.array(
    fc.record({
      workspace: fc.nat(),
      toGroup: fc.boolean(),
      index: fc.nat(),
      roles: fc.subarray([...WORKSPACE_ROLES], { minLength: 1, maxLength: 2 }),
    }),
    { minLength: 1, maxLength: 6 }
  ),
  keys: fc.array(fc.record({ workspace: fc.nat(), revoked: fc.boolean() }), { maxLength: 3 }),
  // Half the runs install forbids only: then the reverse queries skip Cedar for members
  // holding no role (DecisionService.authorizeCandidates), which must not change a verdict.
  policies: fc.oneof(
    fc.subarray(Object.keys(POLICY_POOL).filter((id) => POLICY_POOL[id]!.startsWith('forbid'))),
    fc.subarray(Object.keys(POLICY_POOL))
  ),
})

let h: Harness
let svc: string

beforeAll(async () => {
  h = await startHarness()
  svc = await createServiceKey(h)
})
afterAll(() => h.close())

interface Built {
  orgId: string
  api: Caller
  workspaces: string[]
  members: string[]
  keys: string[]
}

/** Builds the model's organization through the Admin API. */
async function build(m: Model): Promise<Built> {
  const org = await createOrg(h, `Org ${Math.random()}`)
  const api = as(h, org.adminKey)
  const workspaces = [org.defaultWorkspaceId]
  for (const _ of m.extraWorkspaces) {
    workspaces.push((await api.create('/v1/workspaces', { name: `ws ${workspaces.length}` })).id)
  }
  const groups: string[] = []
  for (const g of m.groups) {
    groups.push(
      (
        await api.create('/v1/groups', {
          name: `g${groups.length}`,
          ...(g.orgRole ? { org_role: g.orgRole } : {}),
        })
      ).id
    )
  }
  // Nest each group in a later one (never a cycle).
  for (let i = 0; i < groups.length; i++) {
    const parent = m.groups[i]!.parent
    if (parent === null || i + 1 >= groups.length) continue
    const into = groups[i + 1 + (parent % (groups.length - i - 1))]!
    expectOk(await api.put(`/v1/groups/${into}/subgroups/${groups[i]}`, {}), 'nest')
  }
  const members: string[] = []
  for (const spec of m.members) {
    const id = (
      await api.create('/v1/members', { email: email(), name: 'M', org_role: spec.orgRole })
    ).id as string
    members.push(id)
    for (const g of new Set(spec.groups)) {
      if (groups.length > 0) {
        expectOk(await api.put(`/v1/groups/${groups[g % groups.length]}/members/${id}`, {}), 'join')
      }
    }
  }
  for (const grant of m.grants) {
    if (grant.toGroup && groups.length === 0) continue
    // Members' default-workspace roles are set there by other means; grant elsewhere.
    const workspace = grant.toGroup
      ? workspaces[grant.workspace % workspaces.length]!
      : workspaces[1 + (grant.workspace % (workspaces.length - 1))]!
    const path = grant.toGroup
      ? `/v1/workspaces/${workspace}/access/groups/${groups[grant.index % groups.length]}`
      : `/v1/workspaces/${workspace}/access/members/${members[grant.index % members.length]}`
    expectOk(await api.put(path, { roles: grant.roles }), 'grant')
  }
  const keys: string[] = []
  for (const k of m.keys) {
    const id = (
      await api.create('/v1/api-keys', {
        name: 'k',
        workspace_id: workspaces[k.workspace % workspaces.length],
      })
    ).id as string
    keys.push(id)
    if (k.revoked) expectOk(await api.delete(`/v1/api-keys/${id}`), 'revoke')
  }
  // Deactivations and archives last, so every earlier change was allowed.
  for (let i = 0; i < members.length; i++) {
    if (!m.members[i]!.active && m.members[i]!.orgRole !== 'organization_admin') {
      expectOk(
        await api.patch(`/v1/members/${members[i]}`, { status: 'deactivated' }),
        'deactivate'
      )
    }
  }
  for (let i = 0; i < m.extraWorkspaces.length; i++) {
    if (m.extraWorkspaces[i]!.archived) {
      expectOk(await api.post(`/v1/workspaces/${workspaces[i + 1]}/archive`, {}), 'archive')
    }
  }
  for (const id of m.policies) {
    expectOk(await api.put(`/v1/policies/${id}`, { cedar: POLICY_POOL[id] }), `policy ${id}`)
  }
  return { orgId: org.id, api, workspaces, members, keys }
}

/** Every (principal, workspace, action) that /v1/authorize/batch allows, as "type:id|ws|action". */
async function allowedByAuthorize(b: Built): Promise<Set<string>> {
  const asks: {
    principal: { type: string; id: string }
    action: string
    resource: { type: string; id: string }
  }[] = []
  for (const ws of b.workspaces) {
    for (const action of PRODUCT_ACTIONS) {
      for (const id of b.members)
        asks.push({
          principal: { type: 'Member', id },
          action,
          resource: { type: 'Workspace', id: ws },
        })
      for (const id of b.keys)
        asks.push({
          principal: { type: 'ApiKey', id },
          action,
          resource: { type: 'Workspace', id: ws },
        })
    }
  }
  const allowed = new Set<string>()
  for (let i = 0; i < asks.length; i += 100) {
    const chunk = asks.slice(i, i + 100)
    const res = await h.call('POST', '/v1/authorize/batch', {
      key: svc,
      body: { organization_id: b.orgId, requests: chunk },
    })
    expectOk(res, 'batch')
    res.body.results.forEach((result: { decision: string }, j: number) => {
      const ask = chunk[j]!
      if (result.decision === 'allow') {
        allowed.add(`${ask.principal.type}:${ask.principal.id}|${ask.resource.id}|${ask.action}`)
      }
    })
  }
  return allowed
}

describe('reverse queries equal /v1/authorize', () => {
  it('on random organizations with custom policies and guardrails', async () => {
    let nonEmpty = 0
    let customRuns = 0
    let forbidOnlyRuns = 0
    let groupReachRuns = 0
    await fc.assert(
      fc.asyncProperty(model, fc.integer({ min: 1, max: 4 }), async (m, limit) => {
        const b = await build(m)
        const expected = await allowedByAuthorize(b)
        const fromQueries = new Set<string>()
        for (const ws of b.workspaces) {
          for (const action of PRODUCT_ACTIONS) {
            const rows = await listAll<{ principal: { type: string; id: string } }>(
              b.api,
              `/v1/workspaces/${ws}/authorized-principals?action=${action}`,
              limit
            )
            for (const row of rows)
              fromQueries.add(`${row.principal.type}:${row.principal.id}|${ws}|${action}`)
          }
        }
        expect([...fromQueries].sort()).toEqual([...expected].sort())
        const fromWorkspaces = new Set<string>()
        for (const member of b.members) {
          for (const action of PRODUCT_ACTIONS) {
            const rows = await listAll<{ workspace_id: string }>(
              b.api,
              `/v1/members/${member}/authorized-workspaces?action=${action}`,
              limit
            )
            for (const row of rows)
              fromWorkspaces.add(`Member:${member}|${row.workspace_id}|${action}`)
          }
        }
        const memberExpected = [...expected].filter((entry) => entry.startsWith('Member:'))
        expect([...fromWorkspaces].sort()).toEqual(memberExpected.sort())
        if (expected.size > 0) nonEmpty++
        if (m.policies.length > 0) customRuns++
        if (m.policies.every((id) => POLICY_POOL[id]!.startsWith('forbid'))) {
          forbidOnlyRuns++
          // A group's grant outside the default workspace reaching a member of that group.
          const viaGroup = m.grants.some(
            (g) =>
              g.toGroup &&
              g.workspace % b.workspaces.length !== 0 &&
              m.members.some((member) =>
                member.groups.some((i) => i % m.groups.length === g.index % m.groups.length)
              )
          )
          if (viaGroup) groupReachRuns++
        }
      }),
      // A fixed seed keeps the vacuity checks below from failing on an unlucky draw.
      { numRuns: 16, seed: 15 }
    )
    // Not vacuous: most runs allow something, and custom policies were exercised.
    expect(nonEmpty).toBeGreaterThan(6)
    expect(customRuns).toBeGreaterThan(6)
    expect(forbidOnlyRuns).toBeGreaterThan(4)
    expect(groupReachRuns).toBeGreaterThan(1)
  }, 600_000)
})
