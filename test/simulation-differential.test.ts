import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PRODUCT_ACTIONS } from '../functions/model/index.js'
import { as, type Caller, email, expectOk } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey } from './helpers/usage.js'

/**
 * Differential property test of policy simulation: for a random starting set of custom
 * policies and a random set of proposed changes (adds, replacements, deletions), the decisions
 * POST /v1/policies/simulate reports as flipping — with their before, after and determining
 * policies — are exactly those whose /v1/authorize verdict changes when the same changes are
 * then made for real.
 */

const POOL: Record<string, string[]> = {
  'no-dev-studio': [
    'forbid (principal, action == Action::"use_studio", resource) when { principal in resource.roles.dev };',
    'forbid (principal, action == Action::"use_studio", resource) when { resource.is_default };',
  ],
  'billing-chat': [
    'permit (principal is Member, action == Action::"use_chat", resource) when { principal in OrgRole::"billing_manager" };',
  ],
  'keys-code': ['permit (principal is ApiKey, action == Action::"use_code", resource);'],
  'no-opus': [
    'forbid (principal, action in Action::"consumption", resource) when { context has model && context.model == "claude-opus-4" };',
  ],
  'no-keys-invoke': [
    'forbid (principal is ApiKey, action == Action::"invoke_model", resource) when { resource.is_default };',
  ],
}
const IDS = Object.keys(POOL)

let h: Harness
let svc: string
let api: Caller
let orgId: string
let workspaces: string[]
const principals: { type: string; id: string }[] = []

beforeAll(async () => {
  h = await startHarness()
  svc = await createServiceKey(h)
  const org = await createOrg(h)
  orgId = org.id
  api = as(h, org.adminKey)
  const ws = (await api.create('/v1/workspaces', { name: 'Product' })).id
  workspaces = [org.defaultWorkspaceId, ws]
  const roles = [['dev'], ['user'], ['workspace_contributor'], ['code_user']]
  for (const [i, r] of roles.entries()) {
    const created = await api.create('/v1/members', {
      email: email(),
      name: 'M',
      org_role: i === 0 ? 'billing_manager' : 'member',
      workspaces: [{ workspace_id: ws, roles: r }],
    })
    principals.push({ type: 'Member', id: created.id })
  }
  for (const w of workspaces) {
    const key = await api.create('/v1/api-keys', { name: 'k', workspace_id: w })
    principals.push({ type: 'ApiKey', id: key.id })
  }
})
afterAll(() => h.close())

/** Every principal × workspace × action × model context, in a fixed order. */
function asks() {
  const out: Record<string, unknown>[] = []
  for (const principal of principals) {
    for (const id of workspaces) {
      for (const action of PRODUCT_ACTIONS) {
        for (const model of ['claude-opus-4', 'claude-sonnet-4']) {
          out.push({ principal, action, resource: { type: 'Workspace', id }, context: { model } })
        }
      }
    }
  }
  return out
}

async function decideAll(): Promise<
  { decision: string; decision_id: string; determining_policies: { policy_id: string }[] }[]
> {
  const all = asks()
  const results = []
  for (let i = 0; i < all.length; i += 100) {
    const res = await h.call('POST', '/v1/authorize/batch', {
      key: svc,
      body: { organization_id: orgId, requests: all.slice(i, i + 100) },
    })
    expectOk(res, 'batch')
    results.push(...res.body.results)
  }
  return results
}

/** Makes the installed custom policies exactly `wanted` (id → text). */
async function install(wanted: Map<string, string>): Promise<void> {
  for (const id of IDS) {
    const text = wanted.get(id)
    if (text) expectOk(await api.put(`/v1/policies/${id}`, { cedar: text }), `put ${id}`)
    else if ((await api.get(`/v1/policies/${id}`)).status === 200) {
      expectOk(await api.delete(`/v1/policies/${id}`), `delete ${id}`)
    }
  }
}

const variant = (id: string, n: number) => POOL[id]![n % POOL[id]!.length]!

describe('simulation equals making the change', () => {
  it('on random policy sets and changes', async () => {
    let flipped = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(fc.nat(), { freq: 2 }), {
          minLength: IDS.length,
          maxLength: IDS.length,
        }),
        fc.array(fc.constantFrom('keep', 'keep', 'put', 'delete'), {
          minLength: IDS.length,
          maxLength: IDS.length,
        }),
        fc.nat(),
        async (initial, actions, pick) => {
          const start = new Map<string, string>()
          IDS.forEach((id, i) => {
            if (initial[i] !== null) start.set(id, variant(id, initial[i]!))
          })
          await install(start)
          h.clock.advance(60_000)
          const since = h.clock.now().toISOString()
          const before = await decideAll()
          const changes: Record<string, unknown>[] = []
          const end = new Map(start)
          IDS.forEach((id, i) => {
            if (actions[i] === 'put') {
              const text = variant(id, pick + i + 1)
              changes.push({ id, cedar: text })
              end.set(id, text)
            } else if (actions[i] === 'delete' && start.has(id)) {
              changes.push({ id, delete: true })
              end.delete(id)
            }
          })
          if (changes.length === 0) return
          const simulated = await api.post('/v1/policies/simulate', { changes, after_time: since })
          expectOk(simulated, 'simulate')
          expect(simulated.body.replayed).toBe(before.length)
          await install(end)
          const after = await decideAll()
          const expected = before.flatMap((b, i) =>
            b.decision === after[i]!.decision
              ? []
              : [
                  {
                    decision_id: b.decision_id,
                    before: b.decision,
                    after: after[i]!.decision,
                    determining_policies: after[i]!.determining_policies,
                  },
                ]
          )
          const byId = (a: { decision_id: string }, b: { decision_id: string }) =>
            a.decision_id < b.decision_id ? -1 : 1
          // Cedar reports determining policies as a set: compare them in id order.
          const normal = (
            list: { decision_id: string; determining_policies: { policy_id: string }[] }[]
          ) =>
            list
              .map((c) => ({
                ...c,
                determining_policies: [...c.determining_policies].sort((a, b) =>
                  a.policy_id < b.policy_id ? -1 : 1
                ),
              }))
              .sort(byId)
          expect(normal(simulated.body.changed)).toEqual(normal(expected))
          expect(simulated.body.unchanged).toBe(before.length - expected.length)
          flipped += expected.length
        }
      ),
      { numRuns: 10, seed: 15 }
    )
    expect(flipped).toBeGreaterThan(0)
  }, 600_000)
})
