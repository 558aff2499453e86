import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StoreDecisionService } from '../functions/app/decisions.js'
import { authorizedPrincipals } from '../functions/domain/authorized.js'
import { as, type Caller, email, listAll } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { adminKeyWithRole, createServiceKey } from './helpers/usage.js'

/**
 * Reverse queries through HTTP: GET /v1/workspaces/{id}/authorized-principals?action= and
 * GET /v1/members/{id}/authorized-workspaces?action= — roles from grants, groups and org roles,
 * API keys, custom forbids and guardrails; every page followed; a page whose work budget is
 * spent says so with a cursor; strict parameters; tenant isolation.
 * (test/authorized-differential.test.ts proves them equal to /v1/authorize on random orgs.)
 */
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let other: Awaited<ReturnType<typeof createOrg>>
let api: Caller
let ws: string
let archived: string
const ids: Record<string, string> = {}

type Row = {
  principal: { type: string; id: string }
  determining_policies: { policy_id: string }[]
}

async function member(name: string, roles: string[], orgRole?: string) {
  const created = await api.create('/v1/members', {
    email: email(),
    name,
    ...(orgRole ? { org_role: orgRole } : {}),
    workspaces: roles.length ? [{ workspace_id: ws, roles }] : [],
  })
  ids[name] = created.id
  return created.id as string
}

const principalsOf = async (action: string, limit = 100, workspace = ws) =>
  (
    await listAll<Row>(
      api,
      `/v1/workspaces/${workspace}/authorized-principals?action=${action}`,
      limit
    )
  )
    .map((row) => row.principal.id)
    .sort()

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  other = await createOrg(h, 'Other')
  api = as(h, org.adminKey)
  await createServiceKey(h)
  ws = (await api.create('/v1/workspaces', { name: 'Product' })).id
  archived = (await api.create('/v1/workspaces', { name: 'Old' })).id
  await member('dev', ['dev'])
  await member('user', ['user'])
  await member('admin', [], 'organization_admin')
  await member('viaGroup', [])
  await member('nobody', [])
  const gone = await member('gone', ['dev'])
  await api.patch(`/v1/members/${gone}`, { status: 'deactivated' })
  const group = (await api.create('/v1/groups', { name: 'studio' })).id
  await h.call('PUT', `/v1/groups/${group}/members/${ids.viaGroup}`, { key: org.adminKey })
  await h.call('PUT', `/v1/workspaces/${ws}/access/groups/${group}`, {
    key: org.adminKey,
    body: { roles: ['workspace_contributor'] },
  })
  ids.key = (await api.create('/v1/api-keys', { name: 'k', workspace_id: ws })).id
  ids.otherKey = (
    await api.create('/v1/api-keys', { name: 'k2', workspace_id: org.defaultWorkspaceId })
  ).id
  await h.call('POST', `/v1/workspaces/${archived}/archive`, { key: org.adminKey })
})
afterAll(() => h.close())

describe('authorized-principals', () => {
  it('members by role, group and org role, then API keys of the workspace', async () => {
    expect(await principalsOf('use_studio')).toEqual([ids.dev, ids.admin, ids.viaGroup].sort())
    expect(await principalsOf('use_chat')).toEqual([ids.user, ids.admin, ids.viaGroup].sort())
    expect(await principalsOf('invoke_model')).toEqual(
      [ids.dev, ids.admin, ids.viaGroup, ids.key].sort()
    )
    const rows = await listAll<Row>(
      api,
      `/v1/workspaces/${ws}/authorized-principals?action=use_studio`
    )
    expect(rows.find((r) => r.principal.id === ids.dev)!.determining_policies[0]!.policy_id).toBe(
      'ws-dev'
    )
    // Members first, then keys, each by id.
    const invoke = await listAll<Row>(
      api,
      `/v1/workspaces/${ws}/authorized-principals?action=invoke_model`
    )
    expect(invoke.at(-1)!.principal).toEqual({ type: 'ApiKey', id: ids.key })
  })

  it('pages of 1 return the same complete result', async () => {
    expect(await principalsOf('invoke_model', 1)).toEqual(await principalsOf('invoke_model'))
    const first = await api.get(
      `/v1/workspaces/${ws}/authorized-principals?action=invoke_model&limit=1`
    )
    expect(first.body).toMatchObject({ object: 'list', has_more: true })
    expect(first.body.data).toHaveLength(1)
  })

  it('a custom forbid and the guardrails take principals out', async () => {
    const put = await api.put('/v1/policies/no-dev-studio', {
      cedar: `forbid (principal, action == Action::"use_studio", resource) when { principal in resource.roles.dev };`,
    })
    expect(put.status).toBe(201)
    expect(await principalsOf('use_studio')).toEqual([ids.admin, ids.viaGroup].sort())
    await h.call('DELETE', '/v1/policies/no-dev-studio', { key: org.adminKey })
    expect(await principalsOf('use_studio', 100, archived)).toEqual([])
  })

  it('a page whose work budget is spent says where to go on, even when empty', async () => {
    // The same walk as the route, with a budget of 1 candidate per page instead of 500.
    const decisions = new StoreDecisionService(h.db)
    const seen: string[] = []
    let after: string | undefined
    let pages = 0
    let emptyWithMore = 0
    do {
      const page = await authorizedPrincipals(
        h.db,
        decisions,
        org.id,
        ws,
        'invoke_model',
        { limit: 100, after },
        h.clock.now(),
        { budget: 1 }
      )
      pages++
      if (page.data.length === 0 && page.has_more) emptyWithMore++
      seen.push(...page.data.map((row) => row.principal.id))
      expect(page.has_more).toBe(page.next_cursor !== null)
      after = page.next_cursor ?? undefined
    } while (after)
    expect(seen.sort()).toEqual(await principalsOf('invoke_model'))
    // One candidate per page: the deactivated member and the other workspace's key are denied,
    // so their pages hold nothing but a cursor.
    expect(pages).toBeGreaterThanOrEqual(4)
    expect(emptyWithMore).toBeGreaterThan(0)
  })

  it('refuses a missing or unknown action, unknown parameters and other organizations', async () => {
    const path = `/v1/workspaces/${ws}/authorized-principals`
    for (const query of ['', '?action=fly', '?action=use_chat&member_id=x']) {
      const res = await api.get(`${path}${query}`)
      expect(res.status, query).toBe(400)
      expect(res.body.error.type).toBe('invalid_request')
    }
    const theirs = await as(h, other.adminKey).get(`${path}?action=use_chat`)
    expect(theirs.status).toBe(404)
    const billing = await adminKeyWithRole(h, org.adminKey, 'billing_manager')
    expect((await h.call('GET', `${path}?action=use_chat`, { key: billing })).status).toBe(200)
    const plain = await adminKeyWithRole(h, org.adminKey, 'member')
    expect((await h.call('GET', `${path}?action=use_chat`, { key: plain })).status).toBe(403)
  })
})

describe('authorized-workspaces', () => {
  const workspacesOf = async (memberId: string, action: string, limit = 100) =>
    (
      await listAll<{ workspace_id: string }>(
        api,
        `/v1/members/${memberId}/authorized-workspaces?action=${action}`,
        limit
      )
    )
      .map((row) => row.workspace_id)
      .sort()

  it('where a member may act, every page followed', async () => {
    // Every member is a workspace_contributor of the default workspace (DEFAULT_WORKSPACE_ROLES).
    const home = org.defaultWorkspaceId
    expect(await workspacesOf(ids.dev!, 'use_studio')).toEqual([home, ws].sort())
    expect(await workspacesOf(ids.dev!, 'read_usage')).toEqual([])
    // The archived workspace is never among them, whatever the role.
    expect(await workspacesOf(ids.admin!, 'administer_workspace', 1)).toEqual([home, ws].sort())
    expect(await workspacesOf(ids.nobody!, 'use_chat')).toEqual([home])
    expect(await workspacesOf(ids.gone!, 'use_studio')).toEqual([])
  })

  it("another organization's member is a 404", async () => {
    const res = await as(h, other.adminKey).get(
      `/v1/members/${ids.dev}/authorized-workspaces?action=use_chat`
    )
    expect(res.status).toBe(404)
  })
})
