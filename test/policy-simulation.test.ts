import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, email, listAll } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { adminKeyWithRole, createServiceKey } from './helpers/usage.js'

/**
 * POST /v1/policies/simulate (and PUT /v1/policies/{id}?simulate=true) through HTTP: recorded
 * decisions replayed with proposed custom-policy changes report exactly the decisions that
 * flip, over today's facts; nothing is saved; invalid proposals are refused with Cedar's
 * diagnostics; other organizations' decisions are never replayed.
 */
let h: Harness
let svc: string
let org: Awaited<ReturnType<typeof createOrg>>
let other: Awaited<ReturnType<typeof createOrg>>
let api: Caller
let ws: string
let chatter: string
let coder: string
/** decision ids by what they were: chatter's use_chat (allow), coder's use_studio (allow), … */
const made: Record<string, string> = {}

const FORBID_OPUS = `@id("no-opus")
forbid (principal, action == Action::"use_chat", resource)
when { context has model && context.model == "claude-opus-4" };`
const FORBID_STUDIO = `forbid (principal, action == Action::"use_studio", resource);`

async function decide(member: string, action: string, context?: Record<string, unknown>) {
  const res = await h.call('POST', '/v1/authorize', {
    key: svc,
    body: {
      organization_id: org.id,
      principal: { type: 'Member', id: member },
      action,
      resource: { type: 'Workspace', id: ws },
      ...(context ? { context } : {}),
    },
  })
  expect(res.status).toBe(200)
  return res.body as { decision: string; decision_id: string }
}

async function simulate(body: unknown, key = org.adminKey) {
  return h.call('POST', '/v1/policies/simulate', { key, body })
}

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  other = await createOrg(h, 'Other')
  api = as(h, org.adminKey)
  svc = await createServiceKey(h)
  ws = (await api.create('/v1/workspaces', { name: 'Product' })).id
  const member = async (roles: string[]) =>
    (
      await api.create('/v1/members', {
        email: email(),
        name: 'M',
        workspaces: [{ workspace_id: ws, roles }],
      })
    ).id as string
  chatter = await member(['user'])
  coder = await member(['dev'])
  made.opus = (await decide(chatter, 'use_chat', { model: 'claude-opus-4' })).decision_id
  made.sonnet = (await decide(chatter, 'use_chat', { model: 'claude-sonnet-4' })).decision_id
  made.studio = (await decide(coder, 'use_studio')).decision_id
  made.denied = (await decide(coder, 'use_chat')).decision_id
  // Another organization's decisions are never part of this one's replay.
  const theirs = as(h, other.adminKey)
  const theirMember = (
    await theirs.create('/v1/members', {
      email: email(),
      name: 'T',
      org_role: 'organization_admin',
    })
  ).id
  await h.call('POST', '/v1/authorize', {
    key: svc,
    body: {
      organization_id: other.id,
      principal: { type: 'Member', id: theirMember },
      action: 'use_studio',
      resource: { type: 'Workspace', id: other.defaultWorkspaceId },
    },
  })
})
afterAll(() => h.close())

describe('what flips', () => {
  it('a proposed forbid: exactly the decisions it would deny, with the policy that does', async () => {
    const res = await simulate({ changes: [{ id: 'no-opus', cedar: FORBID_OPUS }] })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      object: 'policy_simulation',
      replayed: 4,
      unchanged: 3,
      changed: [
        {
          decision_id: made.opus,
          before: 'allow',
          after: 'deny',
          determining_policies: [{ policy_id: 'no-opus', description: '' }],
        },
      ],
      changed_count: 1,
      changed_truncated: false,
      summary: { allow_to_deny: 1, deny_to_allow: 0 },
    })
  })

  it('deleting a custom forbid reports what it would allow again; nothing is saved', async () => {
    const put = await h.call('PUT', '/v1/policies/no-studio', {
      key: org.adminKey,
      body: { cedar: FORBID_STUDIO, description: 'no Studio' },
    })
    expect(put.status).toBe(201)
    // Recorded now, with the forbid in force: denied.
    const blocked = await decide(coder, 'use_studio')
    expect(blocked.decision).toBe('deny')
    const res = await simulate({ changes: [{ id: 'no-studio', delete: true }] })
    expect(res.status).toBe(200)
    // `before` is today's verdict with today's policies: the Studio request recorded before
    // the forbid existed is denied today too, so deleting the forbid flips both (newest first).
    const flipped = res.body.changed.map((c: { decision_id: string }) => c.decision_id)
    expect(flipped).toEqual([blocked.decision_id, made.studio])
    for (const change of res.body.changed) {
      expect(change).toMatchObject({ before: 'deny', after: 'allow' })
      expect(change.determining_policies.map((p: { policy_id: string }) => p.policy_id)).toEqual([
        'ws-dev',
      ])
    }
    expect(res.body.summary).toEqual({ allow_to_deny: 0, deny_to_allow: 2 })
    expect(res.body).toMatchObject({ replayed: 5, unchanged: 3 })
    // Nothing changed: the policy is still there and still denies.
    expect((await api.get('/v1/policies/no-studio')).status).toBe(200)
    expect((await decide(coder, 'use_studio')).decision).toBe('deny')
    await h.call('DELETE', '/v1/policies/no-studio', { key: org.adminKey })
  })
})

describe('replaying', () => {
  it('limit and after_time choose which decisions, newest first', async () => {
    const one = await simulate({ changes: [{ id: 'no-opus', cedar: FORBID_OPUS }], limit: 1 })
    expect(one.body.replayed).toBe(1)
    h.clock.advance(60_000)
    const since = h.clock.now().toISOString()
    const fresh = await decide(chatter, 'use_chat', { model: 'claude-opus-4' })
    const later = await simulate({
      changes: [{ id: 'no-opus', cedar: FORBID_OPUS }],
      after_time: since,
    })
    expect(later.body).toMatchObject({ replayed: 1, unchanged: 0 })
    expect(later.body.changed[0].decision_id).toBe(fresh.decision_id)
  })

  it("decides over today's facts: a member who lost the role is denied before and after", async () => {
    const lonely = (
      await api.create('/v1/members', {
        email: email(),
        name: 'L',
        workspaces: [{ workspace_id: ws, roles: ['user'] }],
      })
    ).id
    h.clock.advance(60_000)
    const since = h.clock.now().toISOString()
    const recorded = await decide(lonely, 'use_chat', { model: 'claude-opus-4' })
    expect(recorded.decision).toBe('allow')
    const forbid = { changes: [{ id: 'no-opus', cedar: FORBID_OPUS }], after_time: since }
    const withRole = await simulate(forbid)
    expect(withRole.body.changed).toHaveLength(1)
    const revoked = await h.call('DELETE', `/v1/workspaces/${ws}/access/members/${lonely}`, {
      key: org.adminKey,
    })
    expect(revoked.status).toBe(200)
    const withoutRole = await simulate(forbid)
    expect(withoutRole.body).toMatchObject({ replayed: 1, unchanged: 1, changed: [] })
  })

  it('PUT /v1/policies/{id}?simulate=true answers the same report and saves nothing', async () => {
    const res = await h.call('PUT', '/v1/policies/no-opus?simulate=true', {
      key: org.adminKey,
      body: { cedar: FORBID_OPUS },
    })
    expect(res.status).toBe(200)
    expect(res.body.object).toBe('policy_simulation')
    const same = await simulate({ changes: [{ id: 'no-opus', cedar: FORBID_OPUS }] })
    expect(res.body).toEqual(same.body)
    expect((await api.get('/v1/policies/no-opus')).status).toBe(404)
    const custom = await listAll(api, '/v1/policies?source=custom')
    expect(custom).toEqual([])
  })
})

describe('refused', () => {
  it("a policy failing strict validation → 400 with Cedar's diagnostics, naming the change", async () => {
    const res = await simulate({
      changes: [
        { id: 'ok', cedar: FORBID_STUDIO },
        {
          id: 'typo',
          cedar:
            'forbid (principal, action == Action::"use_chat", resource) when { principal.nope };',
        },
      ],
    })
    expect(res.status).toBe(400)
    expect(res.body.error).toMatchObject({ type: 'invalid_request', param: 'changes.1.cedar' })
    expect(res.body.error.diagnostics[0].line).toBe(1)
  })

  it('built-in ids, unknown deletions, repeated ids and malformed bodies → 400', async () => {
    const cases = [
      { changes: [{ id: 'ws-dev', cedar: FORBID_STUDIO }] },
      { changes: [{ id: 'never-was', delete: true }] },
      {
        changes: [
          { id: 'a', cedar: FORBID_STUDIO },
          { id: 'a', delete: true },
        ],
      },
      { changes: [{ id: 'Bad Id', cedar: FORBID_STUDIO }] },
      { changes: [] },
      { changes: [{ id: 'x', cedar: FORBID_STUDIO }], limit: 100_001 },
      { changes: [{ id: 'x', cedar: FORBID_STUDIO }], extra: true },
      { changes: [{ id: 'x', delete: false }] },
    ]
    for (const body of cases) {
      const res = await simulate(body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.error.type).toBe('invalid_request')
    }
  })

  it('organization admins only', async () => {
    const body = { changes: [{ id: 'no-opus', cedar: FORBID_OPUS }] }
    const billing = await adminKeyWithRole(h, org.adminKey, 'billing_manager')
    expect((await simulate(body, billing)).status).toBe(403)
    expect((await simulate(body, svc)).status).toBe(403)
    const put = await h.call('PUT', '/v1/policies/no-opus?simulate=true', {
      key: billing,
      body: { cedar: FORBID_OPUS },
    })
    expect(put.status).toBe(403)
  })

  it("replays only the caller's organization", async () => {
    const res = await simulate(
      { changes: [{ id: 'no-studio', cedar: FORBID_STUDIO }] },
      other.adminKey
    )
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ replayed: 1, summary: { allow_to_deny: 1 } })
  })
})

describe('rate limits', () => {
  it("a recorded rate-limit deny is decided again, not taken for the policies' verdict", async () => {
    const limited = await createOrg(h, 'Limited')
    const admin = as(h, limited.adminKey)
    const put = await admin.put('/v1/rate-limits', {
      limits: [{ model: '*', requests_per_minute: 1 }],
    })
    expect(put.status).toBe(200)
    const chatter = (
      await admin.create('/v1/members', {
        email: email(),
        name: 'C',
        workspaces: [{ workspace_id: limited.defaultWorkspaceId, roles: ['user'] }],
      })
    ).id
    const chat = () =>
      h.call('POST', '/v1/authorize', {
        key: svc,
        body: {
          organization_id: limited.id,
          principal: { type: 'Member', id: chatter },
          action: 'use_chat',
          resource: { type: 'Workspace', id: limited.defaultWorkspaceId },
          context: { model: 'claude-sonnet-4' },
        },
      })
    expect((await chat()).body.decision).toBe('allow')
    const second = await chat()
    expect(second.body.decision).toBe('deny')
    expect(second.body.determining_policies[0].policy_id).toBe('forbid-rate-limit')
    // A widening change: a deny could only flip to allow. The rate-limited one is a policy
    // allow today, so nothing flips (its recorded deny is not taken for the policies' verdict).
    const widen = await simulate(
      {
        changes: [
          {
            id: 'keys-usage',
            cedar: 'permit (principal is ApiKey, action == Action::"read_usage", resource);',
          },
        ],
      },
      limited.adminKey
    )
    expect(widen.status).toBe(200)
    expect(widen.body).toMatchObject({ replayed: 2, unchanged: 2, changed: [] })
  })
})
