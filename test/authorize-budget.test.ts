import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, email } from './helpers/admin-model.js'
import { decider } from './helpers/decisions.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { aggregate, createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'

/**
 * The usage issue's promise, end to end through HTTP: a workspace that crosses its hard limit is
 * denied consumption after the next aggregation run, by a named policy, and allowed again after
 * the limit is raised and the next run. The same for the organization's limit.
 */
let h: Harness
let api: Caller
let org: Awaited<ReturnType<typeof createOrg>>
let svc: string
let ask: ReturnType<typeof decider>
let events = 0

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  api = as(h, org.adminKey)
  svc = await createServiceKey(h)
  ask = decider(h, svc, org.id)
})
afterAll(() => h.close())

/** Usage worth 3.00 (1M input tokens of claude-sonnet-4 at the default price) in `workspace`. */
async function spend3(workspace: string, keyId: string) {
  const res = await sendEvents(h, svc, [
    usageEvent({
      id: `evt-budget-${++events}`,
      organization_id: org.id,
      workspace_id: workspace,
      timestamp: h.clock.now().toISOString(),
      model: 'claude-sonnet-4',
      api_key_id: keyId,
      input_tokens: 1_000_000,
    }),
  ])
  expect(res.accepted).toBe(1)
}

describe('hard spend limits', () => {
  it('a workspace over its hard limit is denied invoke_model after the next run, and allowed again after a raise and a run', async () => {
    const ws = (await api.create('/v1/workspaces', { name: 'Metered' })).id
    const key = (await api.create('/v1/api-keys', { name: 'k', workspace_id: ws })).id
    const member = (
      await api.create('/v1/members', {
        email: email(),
        name: 'M',
        workspaces: [{ workspace_id: ws, roles: ['workspace_admin'] }],
      })
    ).id
    const invoke = {
      principal: { type: 'ApiKey' as const, id: key },
      action: 'invoke_model',
      workspace: ws,
    }
    const asMember = (action: string) => ({
      principal: { type: 'Member' as const, id: member },
      action,
      workspace: ws,
    })
    await api.put(`/v1/workspaces/${ws}/spend-limit`, {
      monthly_limit: '2.00',
      enforcement: 'hard',
    })
    await spend3(ws, key)
    // Already: ingestion's live spend reached the hard limit (docs/rate-limits.md, "Live spend").
    expect(await ask.summary(invoke)).toBe('deny:forbid-workspace-budget-exhausted')

    await aggregate(h)
    const denied = await ask.one(invoke)
    expect(denied).toEqual({
      decision_id: expect.stringMatching(/^dec_/),
      decision: 'deny',
      determining_policies: [
        {
          policy_id: 'forbid-workspace-budget-exhausted',
          description:
            'no chat, Studio, code or model use in a workspace whose hard spend limit is exhausted',
        },
      ],
      errors: [],
    })
    expect(await ask.summary(asMember('use_studio'))).toBe('deny:forbid-workspace-budget-exhausted')
    // Not consumption: still allowed.
    expect(await ask.summary(asMember('read_usage'))).toBe('allow:ws-admin')
    const budgets = await api.get('/v1/budgets')
    expect(
      budgets.body.data.find((b: { workspace_id: string | null }) => b.workspace_id === ws)
        .suspended
    ).toBe(true)

    await api.put(`/v1/workspaces/${ws}/spend-limit`, {
      monthly_limit: '10.00',
      enforcement: 'hard',
    })
    // Raised, but the run has not re-evaluated it yet.
    expect(await ask.summary(invoke)).toBe('deny:forbid-workspace-budget-exhausted')
    await aggregate(h)
    expect(await ask.summary(invoke)).toBe('allow:api-key-invoke')
    expect(await ask.summary(asMember('use_studio'))).toBe('allow:ws-admin')
  })

  it("an organization over its hard limit is denied consumption in every workspace, by the organization's guardrail", async () => {
    const other = await createOrg(h, 'Capped')
    const admin = as(h, other.adminKey)
    const otherAsk = decider(h, svc, other.id)
    const ws = (await admin.create('/v1/workspaces', { name: 'A' })).id
    const key = (await admin.create('/v1/api-keys', { name: 'k', workspace_id: ws })).id
    const home = (
      await admin.create('/v1/api-keys', { name: 'h', workspace_id: other.defaultWorkspaceId })
    ).id
    await admin.put('/v1/spend-limit', { monthly_limit: '1.00', enforcement: 'hard' })
    await sendEvents(h, svc, [
      usageEvent({
        id: `evt-org-${++events}`,
        organization_id: other.id,
        workspace_id: ws,
        timestamp: h.clock.now().toISOString(),
        input_tokens: 1_000_000,
      }),
    ])
    await aggregate(h)
    for (const [keyId, workspace] of [
      [key, ws],
      [home, other.defaultWorkspaceId],
    ] as const) {
      expect(
        await otherAsk.summary({
          principal: { type: 'ApiKey', id: keyId },
          action: 'invoke_model',
          workspace,
        })
      ).toBe('deny:forbid-organization-budget-exhausted')
    }
    // A soft limit alerts but never suspends.
    await admin.put('/v1/spend-limit', { monthly_limit: '1.00', enforcement: 'soft' })
    await aggregate(h)
    expect(
      await otherAsk.summary({
        principal: { type: 'ApiKey', id: key },
        action: 'invoke_model',
        workspace: ws,
      })
    ).toBe('allow:api-key-invoke')
  })
})
