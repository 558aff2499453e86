import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OrgRole } from '../functions/model/index.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import {
  ADMIN_ONLY,
  ALL_ROLES,
  describeRoleMatrix,
  READERS,
  type RoleMatrixRow,
} from './helpers/role-matrix.js'

/**
 * Every Admin route of the foundation × the three org roles, through HTTP. The expectation
 * column is the contract's rule: organization_admin may do everything; billing_manager may read
 * everything (and change billing settings); member may read only the organization, its
 * workspaces and the roles.
 */
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
const keys = {} as Record<OrgRole, string>
let workspaceId: string
let adminKeyToRevoke: () => Promise<string>

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  for (const role of ['organization_admin', 'billing_manager', 'member'] as const) {
    const res = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: role, org_roles: [role] },
    })
    keys[role] = res.body.secret
  }
  const ws = await h.call('POST', '/v1/workspaces', { key: org.adminKey, body: { name: 'Matrix' } })
  workspaceId = ws.body.id
  adminKeyToRevoke = async () => {
    const res = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'victim', org_roles: ['member'] },
    })
    return res.body.id
  }
})
afterAll(() => h.close())

const ALL = ALL_ROLES
const ADMIN = ADMIN_ONLY

const rows: RoleMatrixRow[] = [
  {
    route: 'GET /v1/organization',
    allowed: ALL,
    request: async () => ({ method: 'GET', path: '/v1/organization' }),
  },
  {
    route: 'PATCH /v1/organization',
    allowed: ADMIN,
    request: async () => ({ method: 'PATCH', path: '/v1/organization', body: { name: 'Acme' } }),
  },
  {
    route: 'GET /v1/roles',
    allowed: ALL,
    request: async () => ({ method: 'GET', path: '/v1/roles' }),
  },
  {
    route: 'GET /v1/workspaces',
    allowed: ALL,
    request: async () => ({ method: 'GET', path: '/v1/workspaces' }),
  },
  {
    route: 'GET /v1/workspaces/{id}',
    allowed: ALL,
    request: async () => ({ method: 'GET', path: `/v1/workspaces/${workspaceId}` }),
  },
  {
    route: 'POST /v1/workspaces',
    allowed: ADMIN,
    request: async () => ({ method: 'POST', path: '/v1/workspaces', body: { name: 'new' } }),
  },
  {
    route: 'PATCH /v1/workspaces/{id}',
    allowed: ADMIN,
    request: async () => ({
      method: 'PATCH',
      path: `/v1/workspaces/${workspaceId}`,
      body: { description: 'd' },
    }),
  },
  {
    route: 'POST /v1/workspaces/{id}/archive',
    allowed: ADMIN,
    request: async () => ({ method: 'POST', path: `/v1/workspaces/${workspaceId}/archive` }),
  },
  {
    route: 'POST /v1/workspaces/{id}/unarchive',
    allowed: ADMIN,
    request: async () => ({ method: 'POST', path: `/v1/workspaces/${workspaceId}/unarchive` }),
  },
  {
    route: 'GET /v1/admin-keys',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: '/v1/admin-keys' }),
  },
  {
    route: 'POST /v1/admin-keys',
    allowed: ADMIN,
    request: async () => ({
      method: 'POST',
      path: '/v1/admin-keys',
      body: { name: 'k', org_roles: ['member'] },
    }),
  },
  {
    route: 'DELETE /v1/admin-keys/{id}',
    allowed: ADMIN,
    request: async () => ({ method: 'DELETE', path: `/v1/admin-keys/${await adminKeyToRevoke()}` }),
  },
  {
    route: 'GET /v1/audit-events',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: '/v1/audit-events' }),
  },
  {
    route: 'GET /v1/scim-tokens',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: '/v1/scim-tokens' }),
  },
  {
    route: 'POST /v1/scim-tokens',
    allowed: ADMIN,
    request: async () => ({ method: 'POST', path: '/v1/scim-tokens', body: { name: 'Okta' } }),
  },
  {
    route: 'DELETE /v1/scim-tokens/{id}',
    allowed: ADMIN,
    request: async () => {
      const res = await h.call('POST', '/v1/scim-tokens', {
        key: org.adminKey,
        body: { name: 'victim' },
      })
      return { method: 'DELETE', path: `/v1/scim-tokens/${res.body.id}` }
    },
  },
]

describeRoleMatrix(rows, () => ({ h, keys }))

describe('a refused change writes nothing', () => {
  it('billing_manager creating a workspace: 403 and no new workspace, no audit event', async () => {
    const before = await h.call('GET', '/v1/workspaces?limit=100', { key: org.adminKey })
    const auditBefore = await h.call('GET', '/v1/audit-events?limit=100', { key: org.adminKey })
    const res = await h.call('POST', '/v1/workspaces', {
      key: keys.billing_manager,
      body: { name: 'Nope' },
    })
    expect(res.status).toBe(403)
    expect(res.body.error.message).toContain('billing_manager')
    const after = await h.call('GET', '/v1/workspaces?limit=100', { key: org.adminKey })
    expect(after.body.data).toEqual(before.body.data)
    const auditAfter = await h.call('GET', '/v1/audit-events?limit=100', { key: org.adminKey })
    expect(auditAfter.body.data).toEqual(auditBefore.body.data)
  })

  it('a key with several roles gets the union', async () => {
    const res = await h.call('POST', '/v1/admin-keys', {
      key: org.adminKey,
      body: { name: 'combo', org_roles: ['member', 'billing_manager'] },
    })
    const combo = res.body.secret
    expect((await h.call('GET', '/v1/audit-events', { key: combo })).status).toBe(200)
    expect(
      (await h.call('POST', '/v1/workspaces', { key: combo, body: { name: 'x' } })).status
    ).toBe(403)
  })
})

describe('GET /v1/roles', () => {
  it('lists each org role with the actions the policies allow it', async () => {
    const res = await h.call('GET', '/v1/roles', { key: keys.member })
    const byName = Object.fromEntries(res.body.data.map((r: { name: string }) => [r.name, r]))
    expect(Object.keys(byName)).toEqual(expect.arrayContaining(ALL))
    expect(byName.member.actions).toEqual(['read_organization', 'read_roles', 'read_workspace'])
    expect(byName.billing_manager.actions).toEqual(
      expect.arrayContaining(['read_audit_log', 'read_admin_keys', 'read_workspace'])
    )
    expect(byName.billing_manager.actions).not.toContain('create_workspace')
    expect(byName.organization_admin.actions).toEqual(
      expect.arrayContaining([
        'create_workspace',
        'manage_admin_keys',
        'update_organization',
        'archive_workspace',
      ])
    )
  })
})
