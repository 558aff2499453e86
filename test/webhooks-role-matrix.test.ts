import { afterAll, beforeAll } from 'vitest'
import type { OrgRole } from '../functions/model/index.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import {
  ADMIN_ONLY,
  describeRoleMatrix,
  READERS,
  type RoleMatrixRow,
} from './helpers/role-matrix.js'

/**
 * The webhook routes × the three org roles, through HTTP: organization_admin manages endpoints
 * (create, change, delete, test); billing_manager reads them and their deliveries, as it reads
 * everything; member may do neither (policies/org-roles.cedar, actions read_webhooks and
 * manage_webhooks).
 */
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
const keys = {} as Record<OrgRole, string>

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
})
afterAll(() => h.close())

/** A new endpoint of the organization (so that a DELETE row has something to delete). */
async function newEndpoint(): Promise<string> {
  const res = await h.call('POST', '/v1/webhooks', {
    key: org.adminKey,
    body: { url: 'https://hooks.example.com/admin', event_types: ['policy.changed'] },
  })
  if (res.status !== 201) throw new Error(`webhook: ${res.status} ${res.text}`)
  return res.body.id as string
}

const rows: RoleMatrixRow[] = [
  {
    route: 'GET /v1/webhooks',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: '/v1/webhooks' }),
  },
  {
    route: 'POST /v1/webhooks',
    allowed: ADMIN_ONLY,
    request: async () => ({
      method: 'POST',
      path: '/v1/webhooks',
      body: { url: 'https://hooks.example.com/new', event_types: ['budget.suspended'] },
    }),
  },
  {
    route: 'GET /v1/webhooks/{id}',
    allowed: READERS,
    request: async () => ({ method: 'GET', path: `/v1/webhooks/${await newEndpoint()}` }),
  },
  {
    route: 'PATCH /v1/webhooks/{id}',
    allowed: ADMIN_ONLY,
    request: async () => ({
      method: 'PATCH',
      path: `/v1/webhooks/${await newEndpoint()}`,
      body: { description: 'changed' },
    }),
  },
  {
    route: 'DELETE /v1/webhooks/{id}',
    allowed: ADMIN_ONLY,
    request: async () => ({ method: 'DELETE', path: `/v1/webhooks/${await newEndpoint()}` }),
  },
  {
    route: 'GET /v1/webhooks/{id}/deliveries',
    allowed: READERS,
    request: async () => ({
      method: 'GET',
      path: `/v1/webhooks/${await newEndpoint()}/deliveries`,
    }),
  },
  {
    route: 'POST /v1/webhooks/{id}/test',
    allowed: ADMIN_ONLY,
    request: async () => ({ method: 'POST', path: `/v1/webhooks/${await newEndpoint()}/test` }),
  },
]

describeRoleMatrix(rows, () => ({ h, keys }))
