import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_CHANGED_LISTED } from '../functions/domain/simulation.js'
import { as, email } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey } from './helpers/usage.js'

/**
 * A simulation that flips more decisions than a response can list: the report stays bounded
 * (under Lambda's 6 MB response limit) and says so, while its counts cover every decision.
 */
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
const RECORDED = MAX_CHANGED_LISTED + 150

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  const api = as(h, org.adminKey)
  const svc = await createServiceKey(h)
  const ws = (await api.create('/v1/workspaces', { name: 'Big' })).id
  const member = (
    await api.create('/v1/members', {
      email: email(),
      name: 'M',
      workspaces: [{ workspace_id: ws, roles: ['user'] }],
    })
  ).id
  const request = {
    principal: { type: 'Member', id: member },
    action: 'use_chat',
    resource: { type: 'Workspace', id: ws },
  }
  for (let made = 0; made < RECORDED; made += 100) {
    const res = await h.call('POST', '/v1/authorize/batch', {
      key: svc,
      body: {
        organization_id: org.id,
        requests: Array.from({ length: Math.min(100, RECORDED - made) }, () => request),
      },
    })
    expect(res.status, res.text).toBe(200)
    expect(res.body.results.every((r: { decision: string }) => r.decision === 'allow')).toBe(true)
  }
}, 180_000)
afterAll(() => h.close())

describe('POST /v1/policies/simulate with more flips than it lists', () => {
  const forbidAll = {
    changes: [
      { id: 'stop-chat', cedar: 'forbid (principal, action == Action::"use_chat", resource);' },
    ],
  }

  it('lists the first 10,000, counts them all, and says the list is cut', async () => {
    const res = await h.call('POST', '/v1/policies/simulate', {
      key: org.adminKey,
      body: forbidAll,
    })
    expect(res.status, res.text).toBe(200)
    expect(res.body.replayed).toBe(RECORDED)
    expect(res.body.changed).toHaveLength(MAX_CHANGED_LISTED)
    expect(res.body.changed_count).toBe(RECORDED)
    expect(res.body.changed_truncated).toBe(true)
    expect(res.body.summary).toEqual({ allow_to_deny: RECORDED, deny_to_allow: 0 })
    expect(new Set(res.body.changed.map((c: { decision_id: string }) => c.decision_id)).size).toBe(
      MAX_CHANGED_LISTED
    )
  })

  it('a narrower replay lists every flip and is not marked cut', async () => {
    const res = await h.call('POST', '/v1/policies/simulate', {
      key: org.adminKey,
      body: { ...forbidAll, limit: 500 },
    })
    expect(res.status, res.text).toBe(200)
    expect(res.body).toMatchObject({ replayed: 500, changed_count: 500, changed_truncated: false })
    expect(res.body.changed).toHaveLength(500)
  })
})
