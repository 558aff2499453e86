import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, email } from './helpers/admin-model.js'
import { decider } from './helpers/decisions.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey } from './helpers/usage.js'

/**
 * POST /v1/authorize and /v1/authorize/batch through HTTP: roles from direct grants and nested
 * groups, the guardrails (each naming its policy), API key principals, unknown principals and
 * resources, context checks, who may ask, and batch semantics.
 */
let h: Harness
let svc: string
let org: Awaited<ReturnType<typeof createOrg>>
let other: Awaited<ReturnType<typeof createOrg>>
let api: Caller
let ask: ReturnType<typeof decider>
let ws: string
let otherWs: string

const member = (id: string) => ({ type: 'Member' as const, id })
const apiKey = (id: string) => ({ type: 'ApiKey' as const, id })

async function newMember(roles: string[] = [], workspace = ws, orgRole?: string) {
  const created = await api.create('/v1/members', {
    email: email(),
    name: 'Subject',
    ...(orgRole ? { org_role: orgRole } : {}),
    // The default workspace always gets a grant; give it a role nobody tests with.
    workspaces: [
      { workspace_id: org.defaultWorkspaceId, roles: ['observability_viewer'] },
      ...(roles.length ? [{ workspace_id: workspace, roles }] : []),
    ],
  })
  return created.id as string
}

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  other = await createOrg(h, 'Other')
  api = as(h, org.adminKey)
  svc = await createServiceKey(h)
  ask = decider(h, svc, org.id)
  ws = (await api.create('/v1/workspaces', { name: 'Product' })).id
  otherWs = (await as(h, other.adminKey).create('/v1/workspaces', { name: 'Theirs' })).id
})
afterAll(() => h.close())

describe('roles', () => {
  it('allows what a direct grant allows and names the policy; denies the rest with none', async () => {
    const dev = await newMember(['dev'])
    const allowed = await ask.member(dev, 'use_studio', ws)
    expect(allowed).toEqual({
      // Every decision has its id in the decision log (test/decision-log.test.ts).
      decision_id: expect.stringMatching(/^dec_[0-9A-HJKMNP-TV-Z]{26}$/),
      decision: 'allow',
      determining_policies: [
        {
          policy_id: 'ws-dev',
          description: 'dev may use Studio, invoke models and manage API keys in its workspace',
        },
      ],
      errors: [],
    })
    expect(await ask.member(dev, 'use_chat', ws)).toEqual({
      decision_id: expect.stringMatching(/^dec_/),
      decision: 'deny',
      determining_policies: [],
      errors: [],
    })
    // The grant is in `ws` only.
    expect((await ask.member(dev, 'use_studio', org.defaultWorkspaceId)).decision).toBe('deny')
  })

  it('gives a member the union of the roles of every group containing it, nesting included', async () => {
    const subject = await newMember()
    const team = (await api.create('/v1/groups', { name: 'team' })).id
    const dept = (await api.create('/v1/groups', { name: 'dept' })).id
    const company = (await api.create('/v1/groups', { name: 'company' })).id
    await api.create(`/v1/groups/${dept}/subgroups/${team}`, undefined, 'PUT')
    await api.create(`/v1/groups/${company}/subgroups/${dept}`, undefined, 'PUT')
    await api.create(`/v1/groups/${team}/members/${subject}`, undefined, 'PUT')
    await api.create(`/v1/workspaces/${ws}/access/groups/${company}`, { roles: ['billing'] }, 'PUT')
    await api.create(`/v1/workspaces/${ws}/access/groups/${team}`, { roles: ['code_user'] }, 'PUT')
    expect(
      await ask.summary({ principal: member(subject), action: 'read_usage', workspace: ws })
    ).toBe('allow:ws-billing')
    // code_user through a group; the seat is still needed (a license, whatever the role).
    expect(
      await ask.summary({ principal: member(subject), action: 'use_code', workspace: ws })
    ).toBe('deny:forbid-no-code-seat')
    expect((await ask.member(subject, 'use_studio', ws)).decision).toBe('deny')
  })

  it('an org role carried by a group reaches every workspace of the organization', async () => {
    const subject = await newMember()
    const admins = (
      await api.create('/v1/groups', { name: 'admins', org_role: 'organization_admin' })
    ).id
    await api.create(`/v1/groups/${admins}/members/${subject}`, undefined, 'PUT')
    expect(
      await ask.summary({
        principal: member(subject),
        action: 'administer_workspace',
        workspace: ws,
      })
    ).toBe('allow:org-admin-products')
    const billing = await newMember([], ws, 'billing_manager')
    expect(
      await ask.summary({ principal: member(billing), action: 'read_usage', workspace: ws })
    ).toBe('allow:org-billing-manager-usage')
    expect((await ask.member(billing, 'use_chat', ws)).decision).toBe('deny')
  })
})

describe('guardrails', () => {
  it('a deactivated member may do nothing, and is allowed again when reactivated', async () => {
    const subject = await newMember(['workspace_admin'])
    await api.patch(`/v1/members/${subject}`, { status: 'deactivated' })
    expect(
      await ask.summary({ principal: member(subject), action: 'read_usage', workspace: ws })
    ).toBe('deny:forbid-deactivated-member')
    await api.patch(`/v1/members/${subject}`, { status: 'active' })
    expect(
      await ask.summary({ principal: member(subject), action: 'read_usage', workspace: ws })
    ).toBe('allow:ws-admin')
  })

  it('nothing is allowed in an archived workspace', async () => {
    const archived = (await api.create('/v1/workspaces', { name: 'Old' })).id
    const subject = await newMember(['workspace_admin'], archived)
    await api.post(`/v1/workspaces/${archived}/archive`)
    expect(
      await ask.summary({
        principal: member(subject),
        action: 'view_observability',
        workspace: archived,
      })
    ).toBe('deny:forbid-archived-workspace')
  })

  it('chat needs a chat seat once the organization sells chat seats; code always needs one', async () => {
    const seatsOrg = await createOrg(h, 'Seats')
    const admin = as(h, seatsOrg.adminKey)
    const seatAsk = decider(h, svc, seatsOrg.id)
    const subject = (await admin.create('/v1/members', { email: email(), name: 'S' })).id
    const home = seatsOrg.defaultWorkspaceId // workspace_contributor there by default
    expect(
      await seatAsk.summary({ principal: member(subject), action: 'use_chat', workspace: home })
    ).toBe('allow:ws-contributor')
    await admin.put('/v1/seats/chat', { purchased: 1 })
    expect(
      await seatAsk.summary({ principal: member(subject), action: 'use_chat', workspace: home })
    ).toBe('deny:forbid-no-chat-seat')
    await admin.put(`/v1/members/${subject}/seats/chat`)
    expect(
      await seatAsk.summary({ principal: member(subject), action: 'use_chat', workspace: home })
    ).toBe('allow:ws-contributor')
    expect(
      await seatAsk.summary({ principal: member(subject), action: 'use_code', workspace: home })
    ).toBe('deny:forbid-no-code-seat')
    await admin.put('/v1/seats/code', { purchased: 1 })
    await admin.put(`/v1/members/${subject}/seats/code`)
    expect(
      await seatAsk.summary({ principal: member(subject), action: 'use_code', workspace: home })
    ).toBe('allow:ws-contributor')
  })
})

describe('API keys as principals', () => {
  it('a key may invoke models in its own workspace only', async () => {
    const key = (await api.create('/v1/api-keys', { name: 'k', workspace_id: ws })).id
    expect(
      await ask.summary({ principal: apiKey(key), action: 'invoke_model', workspace: ws })
    ).toBe('allow:api-key-invoke')
    expect(
      (
        await ask.one({
          principal: apiKey(key),
          action: 'invoke_model',
          workspace: org.defaultWorkspaceId,
        })
      ).decision
    ).toBe('deny')
    expect(
      (await ask.one({ principal: apiKey(key), action: 'use_chat', workspace: ws })).decision
    ).toBe('deny')
  })

  it('a revoked key, an expired key and a key of a deactivated member are denied by name', async () => {
    const revoked = (await api.create('/v1/api-keys', { name: 'r', workspace_id: ws })).id
    await api.delete(`/v1/api-keys/${revoked}`)
    expect(
      await ask.summary({ principal: apiKey(revoked), action: 'invoke_model', workspace: ws })
    ).toBe('deny:forbid-revoked-key')

    const expiresAt = new Date(h.clock.now().getTime() + 3_600_000).toISOString()
    const expiring = (
      await api.create('/v1/api-keys', { name: 'e', workspace_id: ws, expires_at: expiresAt })
    ).id
    expect(
      (await ask.one({ principal: apiKey(expiring), action: 'invoke_model', workspace: ws }))
        .decision
    ).toBe('allow')
    h.clock.advance(3_600_000)
    try {
      expect(
        await ask.summary({ principal: apiKey(expiring), action: 'invoke_model', workspace: ws })
      ).toBe('deny:forbid-expired-key')
    } finally {
      h.clock.advance(-3_600_000)
    }

    const owner = await newMember(['dev'])
    const owned = (
      await api.create('/v1/api-keys', { name: 'o', workspace_id: ws, member_id: owner })
    ).id
    await api.patch(`/v1/members/${owner}`, { status: 'deactivated' })
    expect(
      await ask.summary({ principal: apiKey(owned), action: 'invoke_model', workspace: ws })
    ).toBe('deny:forbid-key-of-deactivated-member')
  })
})

describe('unknown principals and resources', () => {
  it('is a deny with a clear error, never a 500', async () => {
    const subject = await newMember(['dev'])
    const unknownMember = await ask.one({
      principal: member('mem_nope'),
      action: 'use_chat',
      workspace: ws,
    })
    expect(unknownMember.decision).toBe('deny')
    expect(unknownMember.errors).toEqual([
      { code: 'unknown_principal', message: `No member 'mem_nope' in organization '${org.id}'.` },
    ])
    const unknownWs = await ask.one({
      principal: member(subject),
      action: 'use_chat',
      workspace: 'ws_nope',
    })
    expect(unknownWs.errors.map((e) => e.code)).toEqual(['unknown_resource'])
    const unknownKey = await ask.one({
      principal: apiKey('key_nope'),
      action: 'invoke_model',
      workspace: ws,
    })
    expect(unknownKey.errors.map((e) => e.code)).toEqual(['unknown_principal'])
    const both = await ask.one({
      principal: member('mem_x'),
      action: 'use_chat',
      workspace: 'ws_x',
    })
    expect(both.errors.map((e) => e.code)).toEqual(['unknown_principal', 'unknown_resource'])
  })

  it("another organization's member or workspace is unknown in this one", async () => {
    const theirs = (
      await as(h, other.adminKey).create('/v1/members', { email: email(), name: 'T' })
    ).id
    const res = await ask.one({ principal: member(theirs), action: 'use_chat', workspace: ws })
    expect(res.decision).toBe('deny')
    expect(res.errors.map((e) => e.code)).toEqual(['unknown_principal'])
    const mine = await newMember(['workspace_admin'])
    const foreignWs = await ask.one({
      principal: member(mine),
      action: 'use_chat',
      workspace: otherWs,
    })
    expect(foreignWs.errors.map((e) => e.code)).toEqual(['unknown_resource'])
  })

  it('an unknown organization is a 404', async () => {
    const res = await h.call('POST', '/v1/authorize', {
      key: svc,
      body: {
        organization_id: 'org_nope',
        principal: member('mem_x'),
        action: 'use_chat',
        resource: { type: 'Workspace', id: ws },
      },
    })
    expect(res.status).toBe(404)
    expect(res.body.error.param).toBe('organization_id')
  })
})

describe('context', () => {
  it("accepts model and source_ip, and denies with Cedar's error for anything else", async () => {
    const subject = await newMember(['user'])
    const ok = await ask.one({
      principal: member(subject),
      action: 'use_chat',
      workspace: ws,
      context: { model: 'claude-sonnet-4', source_ip: '203.0.113.7' },
    })
    expect(ok.decision).toBe('allow')
    const unknownField = await ask.one({
      principal: member(subject),
      action: 'use_chat',
      workspace: ws,
      context: { tenant: 'x' },
    })
    expect(unknownField.decision).toBe('deny')
    expect(unknownField.errors[0]).toMatchObject({ code: 'invalid_request' })
    expect(unknownField.errors[0]!.message).toContain('tenant')
    const badIp = await ask.one({
      principal: member(subject),
      action: 'use_chat',
      workspace: ws,
      context: { source_ip: 'not-an-ip' },
    })
    expect(badIp.decision).toBe('deny')
    expect(badIp.errors[0]!.message).toMatch(/IP/i)
    const now = await ask.one({
      principal: member(subject),
      action: 'use_chat',
      workspace: ws,
      context: { now: '2020-01-01T00:00:00Z' },
    })
    expect(now.errors).toEqual([
      { code: 'invalid_request', message: 'context.now is set by the server; leave it out.' },
    ])
  })
})

describe('who may ask', () => {
  const body = () => ({
    organization_id: org.id,
    principal: member('mem_x'),
    action: 'use_chat',
    resource: { type: 'Workspace', id: ws },
  })

  it('service keys for any organization; admin keys for their own, with admin_read', async () => {
    expect(
      (await h.call('POST', '/v1/authorize', { key: org.adminKey, body: body() })).status
    ).toBe(200)
    const foreign = await h.call('POST', '/v1/authorize', { key: other.adminKey, body: body() })
    expect(foreign.status).toBe(404)
    const memberKey = (
      await api.create('/v1/admin-keys', { name: 'reader', org_roles: ['member'] })
    ).secret
    expect((await h.call('POST', '/v1/authorize', { key: memberKey, body: body() })).status).toBe(
      403
    )
    expect(
      (await h.call('POST', '/v1/authorize', { key: h.operatorKey, body: body() })).status
    ).toBe(403)
    expect((await h.call('POST', '/v1/authorize', { body: body() })).status).toBe(401)
  })

  it('rejects a malformed request with 400 and the field', async () => {
    const res = await h.call('POST', '/v1/authorize', {
      key: svc,
      body: { ...body(), action: 'fly' },
    })
    expect(res.status).toBe(400)
    expect(res.body.error.param).toBe('action')
    const noPrincipal = await h.call('POST', '/v1/authorize', {
      key: svc,
      body: { ...body(), principal: { type: 'User', id: 'u' } },
    })
    expect(noPrincipal.status).toBe(400)
    expect(noPrincipal.body.error.param).toBe('principal.type')
    const badId = await h.call('POST', '/v1/authorize', {
      key: svc,
      body: { ...body(), resource: { type: 'Workspace', id: `${ws}#member#x` } },
    })
    expect(badId.status).toBe(400)
    expect(badId.body.error.param).toBe('resource.id')
  })
})

describe('batch', () => {
  it('answers up to 100 requests in order, a bad one in its own result', async () => {
    const dev = await newMember(['dev'])
    const user = await newMember(['user'])
    const requests = [
      { principal: member(dev), action: 'use_studio', resource: { type: 'Workspace', id: ws } },
      { principal: member(user), action: 'use_studio', resource: { type: 'Workspace', id: ws } },
      { principal: member(user), action: 'fly', resource: { type: 'Workspace', id: ws } },
      { principal: member(user), action: 'use_chat', resource: { type: 'Workspace', id: ws } },
      {
        principal: member('mem_nope'),
        action: 'use_chat',
        resource: { type: 'Workspace', id: ws },
      },
    ]
    const res = await h.call('POST', '/v1/authorize/batch', {
      key: svc,
      body: { organization_id: org.id, requests },
    })
    expect(res.status).toBe(200)
    const results = res.body.results as {
      decision: string
      errors: { code: string; message: string }[]
    }[]
    expect(results.map((r) => r.decision)).toEqual(['allow', 'deny', 'deny', 'allow', 'deny'])
    expect(results[2]!.errors).toHaveLength(1)
    expect(results[2]!.errors[0]!.code).toBe('invalid_request')
    expect(results[2]!.errors[0]!.message).toContain('action')
    expect(results[4]!.errors[0]!.code).toBe('unknown_principal')
    expect(results[1]!.errors).toEqual([])
  })

  it('decides 100 requests for many members, and refuses 101 or none', async () => {
    const ids = await Promise.all(Array.from({ length: 5 }, () => newMember(['user'])))
    const requests = Array.from({ length: 100 }, (_, i) => ({
      principal: member(ids[i % ids.length]!),
      action: i % 2 === 0 ? 'use_chat' : 'use_studio',
      resource: { type: 'Workspace', id: ws },
    }))
    const res = await h.call('POST', '/v1/authorize/batch', {
      key: svc,
      body: { organization_id: org.id, requests },
    })
    expect(res.status).toBe(200)
    expect(res.body.results.map((r: { decision: string }) => r.decision)).toEqual(
      requests.map((_, i) => (i % 2 === 0 ? 'allow' : 'deny'))
    )
    const tooMany = await h.call('POST', '/v1/authorize/batch', {
      key: svc,
      body: { organization_id: org.id, requests: [...requests, requests[0]] },
    })
    expect(tooMany.status).toBe(400)
    expect(tooMany.body.error.param).toBe('requests')
    const none = await h.call('POST', '/v1/authorize/batch', {
      key: svc,
      body: { organization_id: org.id, requests: [] },
    })
    expect(none.status).toBe(400)
  })
})
