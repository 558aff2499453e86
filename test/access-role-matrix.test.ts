import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OrgRole } from '../functions/model/index.js'
import { as, type Caller, email } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import {
  ADMIN_ONLY,
  BILLING_WRITERS,
  describeRoleMatrix,
  READERS,
  type RoleMatrixRow,
} from './helpers/role-matrix.js'

/**
 * Every route of members, invites, groups, workspace access, seats and workspace API keys × the
 * three org roles of admin keys, through HTTP. The contract's rule: organization_admin may do
 * everything; billing_manager may read everything and change seats; member may read only the
 * organization, workspaces and roles (so none of these routes).
 */
let h: Harness
let admin: Caller
const keys = {} as Record<OrgRole, string>
let ws: string
let member: { id: string }
let group: { id: string }
let invite: { id: string }
let apiKey: { id: string }

let n = 0
const fresh = {
  member: async () => admin.create('/v1/members', { email: email('matrix'), name: `M${++n}` }),
  group: async () => admin.create('/v1/groups', { name: `Matrix ${++n}` }),
}

beforeAll(async () => {
  h = await startHarness()
  const org = await createOrg(h)
  admin = as(h, org.adminKey)
  for (const role of ['organization_admin', 'billing_manager', 'member'] as const) {
    keys[role] = (await admin.create('/v1/admin-keys', { name: role, org_roles: [role] })).secret
  }
  ws = (await admin.create('/v1/workspaces', { name: 'Matrix' })).id
  await admin.create('/v1/seats/chat', { purchased: 1000 }, 'PUT')
  member = await fresh.member()
  group = await fresh.group()
  invite = await admin.create('/v1/invites', { email: email('invited') })
  apiKey = await admin.create('/v1/api-keys', { name: 'matrix', workspace_id: ws })
})
afterAll(() => h.close())

const ADMIN = ADMIN_ONLY
const BILLING = BILLING_WRITERS

const rows: RoleMatrixRow[] = [
  // Members
  {
    route: 'GET /v1/members',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: '/v1/members' }),
  },
  {
    route: 'POST /v1/members',
    allowed: ADMIN,
    request: async () => ({
      method: 'POST',
      path: '/v1/members',
      body: { email: email(), name: 'N' },
    }),
  },
  {
    route: 'GET /v1/members/{id}',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: `/v1/members/${member.id}` }),
  },
  {
    route: 'PATCH /v1/members/{id}',
    allowed: ADMIN,
    request: async () => ({
      method: 'PATCH',
      path: `/v1/members/${member.id}`,
      body: { name: `P${++n}` },
    }),
  },
  {
    route: 'DELETE /v1/members/{id}',
    allowed: ADMIN,
    request: async () => ({ method: 'DELETE', path: `/v1/members/${(await fresh.member()).id}` }),
  },
  {
    route: 'GET /v1/members/{id}/effective-access',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: `/v1/members/${member.id}/effective-access` }),
  },
  // Invites
  {
    route: 'GET /v1/invites',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: '/v1/invites' }),
  },
  {
    route: 'POST /v1/invites',
    allowed: ADMIN,
    request: async () => ({ method: 'POST', path: '/v1/invites', body: { email: email() } }),
  },
  {
    route: 'GET /v1/invites/{id}',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: `/v1/invites/${invite.id}` }),
  },
  {
    route: 'DELETE /v1/invites/{id}',
    allowed: ADMIN,
    request: async () => ({
      method: 'DELETE',
      path: `/v1/invites/${(await admin.create('/v1/invites', { email: email() })).id}`,
    }),
  },
  // Groups
  {
    route: 'GET /v1/groups',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: '/v1/groups' }),
  },
  {
    route: 'POST /v1/groups',
    allowed: ADMIN,
    request: async () => ({ method: 'POST', path: '/v1/groups', body: { name: `New ${++n}` } }),
  },
  {
    route: 'GET /v1/groups/{id}',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: `/v1/groups/${group.id}` }),
  },
  {
    route: 'PATCH /v1/groups/{id}',
    allowed: ADMIN,
    request: async () => ({
      method: 'PATCH',
      path: `/v1/groups/${group.id}`,
      body: { name: `Renamed ${++n}` },
    }),
  },
  {
    route: 'DELETE /v1/groups/{id}',
    allowed: ADMIN,
    request: async () => ({ method: 'DELETE', path: `/v1/groups/${(await fresh.group()).id}` }),
  },
  {
    route: 'GET /v1/groups/{id}/members',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: `/v1/groups/${group.id}/members` }),
  },
  {
    route: 'PUT /v1/groups/{id}/members/{member_id}',
    allowed: ADMIN,
    request: async () => ({ method: 'PUT', path: `/v1/groups/${group.id}/members/${member.id}` }),
  },
  {
    route: 'DELETE /v1/groups/{id}/members/{member_id}',
    allowed: ADMIN,
    request: async () => {
      const m = await fresh.member()
      await admin.create(`/v1/groups/${group.id}/members/${m.id}`, undefined, 'PUT')
      return { method: 'DELETE', path: `/v1/groups/${group.id}/members/${m.id}` }
    },
  },
  {
    route: 'PUT /v1/groups/{id}/subgroups/{group_id}',
    allowed: ADMIN,
    request: async () => ({
      method: 'PUT',
      path: `/v1/groups/${group.id}/subgroups/${(await fresh.group()).id}`,
    }),
  },
  {
    route: 'DELETE /v1/groups/{id}/subgroups/{group_id}',
    allowed: ADMIN,
    request: async () => {
      const child = await fresh.group()
      await admin.create(`/v1/groups/${group.id}/subgroups/${child.id}`, undefined, 'PUT')
      return { method: 'DELETE', path: `/v1/groups/${group.id}/subgroups/${child.id}` }
    },
  },
  // Workspace access
  {
    route: 'GET /v1/workspaces/{id}/access',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: `/v1/workspaces/${ws}/access` }),
  },
  {
    route: 'PUT /v1/workspaces/{id}/access/members/{member_id}',
    allowed: ADMIN,
    request: async () => ({
      method: 'PUT',
      path: `/v1/workspaces/${ws}/access/members/${member.id}`,
      body: { roles: ['user'] },
    }),
  },
  {
    route: 'DELETE /v1/workspaces/{id}/access/members/{member_id}',
    allowed: ADMIN,
    request: async () => {
      const m = await fresh.member()
      await admin.create(`/v1/workspaces/${ws}/access/members/${m.id}`, { roles: ['dev'] }, 'PUT')
      return { method: 'DELETE', path: `/v1/workspaces/${ws}/access/members/${m.id}` }
    },
  },
  {
    route: 'PUT /v1/workspaces/{id}/access/groups/{group_id}',
    allowed: ADMIN,
    request: async () => ({
      method: 'PUT',
      path: `/v1/workspaces/${ws}/access/groups/${group.id}`,
      body: { roles: ['dev'] },
    }),
  },
  {
    route: 'DELETE /v1/workspaces/{id}/access/groups/{group_id}',
    allowed: ADMIN,
    request: async () => {
      const g = await fresh.group()
      await admin.create(`/v1/workspaces/${ws}/access/groups/${g.id}`, { roles: ['dev'] }, 'PUT')
      return { method: 'DELETE', path: `/v1/workspaces/${ws}/access/groups/${g.id}` }
    },
  },
  // Seats
  {
    route: 'GET /v1/seats',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: '/v1/seats' }),
  },
  {
    route: 'PUT /v1/seats/{product}',
    allowed: BILLING,
    request: async () => ({
      method: 'PUT',
      path: '/v1/seats/chat',
      body: { purchased: 1000 + ++n },
    }),
  },
  {
    route: 'PUT /v1/members/{id}/seats/{product}',
    allowed: BILLING,
    request: async () => ({
      method: 'PUT',
      path: `/v1/members/${(await fresh.member()).id}/seats/chat`,
    }),
  },
  {
    route: 'DELETE /v1/members/{id}/seats/{product}',
    allowed: BILLING,
    request: async () => {
      const m = await fresh.member()
      await admin.create(`/v1/members/${m.id}/seats/chat`, undefined, 'PUT')
      return { method: 'DELETE', path: `/v1/members/${m.id}/seats/chat` }
    },
  },
  // Workspace API keys
  {
    route: 'GET /v1/api-keys',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: '/v1/api-keys' }),
  },
  {
    route: 'POST /v1/api-keys',
    allowed: ADMIN,
    request: async () => ({
      method: 'POST',
      path: '/v1/api-keys',
      body: { name: 'k', workspace_id: ws },
    }),
  },
  {
    route: 'GET /v1/api-keys/{id}',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: `/v1/api-keys/${apiKey.id}` }),
  },
  {
    route: 'DELETE /v1/api-keys/{id}',
    allowed: ADMIN,
    request: async () => ({
      method: 'DELETE',
      path: `/v1/api-keys/${(await admin.create('/v1/api-keys', { name: 'x', workspace_id: ws })).id}`,
    }),
  },
  {
    route: 'POST /v1/api-keys/{id}/rotate',
    allowed: ADMIN,
    request: async () => ({ method: 'POST', path: `/v1/api-keys/${apiKey.id}/rotate` }),
  },
]

describeRoleMatrix(rows, () => ({ h, keys }))

describe('refused changes write nothing', () => {
  it('billing_manager adding a member or a group grant: 403, nothing stored or audited', async () => {
    const auditBefore = await admin.get('/v1/audit-events?limit=100')
    const address = email('refused')
    const res = await h.call('POST', '/v1/members', {
      key: keys.billing_manager,
      body: { email: address, name: 'No' },
    })
    expect(res.status).toBe(403)
    expect((await admin.get(`/v1/members?email=${address}`)).body.data).toEqual([])
    const grant = await h.call('PUT', `/v1/workspaces/${ws}/access/groups/${group.id}`, {
      key: keys.billing_manager,
      body: { roles: ['workspace_admin'] },
    })
    expect(grant.status).toBe(403)
    const seats = await h.call('PUT', '/v1/seats/code', {
      key: keys.member,
      body: { purchased: 5 },
    })
    expect(seats.status).toBe(403)
    const pools = await admin.get('/v1/seats')
    expect(pools.body.data.find((p: { product: string }) => p.product === 'code').purchased).toBe(0)
    const auditAfter = await admin.get('/v1/audit-events?limit=100')
    expect(auditAfter.body.data).toEqual(auditBefore.body.data)
  })

  it('the role catalogue shows the new actions per role', async () => {
    const roles = (await admin.get('/v1/roles')).body.data
    const byName = Object.fromEntries(roles.map((r: { name: string }) => [r.name, r]))
    expect(byName.billing_manager.actions).toEqual(
      expect.arrayContaining([
        'read_members',
        'read_groups',
        'manage_seats',
        'read_workspace_api_keys',
      ])
    )
    expect(byName.billing_manager.actions).not.toContain('manage_members')
    expect(byName.organization_admin.actions).toEqual(
      expect.arrayContaining(['manage_members', 'manage_groups', 'manage_workspace_access'])
    )
    expect(byName.member.actions).toEqual(['read_organization', 'read_roles', 'read_workspace'])
  })
})
