import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StoreDecisionService as DecisionService } from '../functions/app/decisions.js'
import {
  MAX_CONTEXT_NESTING,
  MAX_POLICY_DEPTH_BUDGET,
  MAX_POLICY_NESTING,
} from '../functions/authz/cedar-limits.js'
import type { ProductRequest } from '../functions/authz/decisions.js'
import {
  builtinPolicySet,
  decide,
  EngineUnavailableError,
  engineRebuilds,
} from '../functions/authz/engine.js'
import { as, type Caller, email } from './helpers/admin-model.js'
import { decider } from './helpers/decisions.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey } from './helpers/usage.js'

/**
 * One tenant cannot break Cedar for the others: policy text and decision context that would
 * overflow the wasm stack are refused before they reach Cedar (400 naming the field), and the
 * next decision of another organization is still right (issue 10, item 2).
 */
let h: Harness
let attacker: Caller
let victim: Awaited<ReturnType<typeof createOrg>>
let victimApi: Caller
let ask: ReturnType<typeof decider>
let dev: string
let victimWs: string
let svc: string

const nested = (depth: number, open = '(', close = ')') =>
  `permit (principal, action in Action::"product_action", resource) when { ${open.repeat(depth)}true${close.repeat(depth)} };`

/** The victim organization still decides right and its Cedar-guarded Admin routes still work. */
async function victimStillWorks() {
  expect(await ask.member(dev, 'use_studio', victimWs)).toMatchObject({
    decision: 'allow',
    determining_policies: [{ policy_id: 'ws-dev' }],
    errors: [],
  })
  expect((await ask.member(dev, 'use_chat', victimWs)).decision).toBe('deny')
  expect((await victimApi.get('/v1/workspaces')).status).toBe(200)
  expect((await victimApi.get('/v1/policies')).status).toBe(200)
}

function expectRefused(
  res: { status: number; body: { error: Record<string, unknown> } },
  param: string
) {
  expect(res.status, JSON.stringify(res.body)).toBe(400)
  expect(res.body.error).toMatchObject({ type: 'invalid_request', param })
  expect(typeof res.body.error.message).toBe('string')
  expect(typeof res.body.error.request_id).toBe('string')
}

/** A context Cedar cannot take: nested far deeper than the wasm stack allows. */
function trappingContext(): Record<string, unknown> {
  let value: unknown = 'x'
  for (let i = 0; i < 5000; i++) value = { a: value }
  return { model: value }
}

/**
 * Stands in for an input that gets past the limits and traps the wasm: a request whose
 * context says `inject_trap` reaches Cedar with a context it cannot take.
 */
class TrapInjectingDecisions extends DecisionService {
  override authorize(organizationId: string, request: ProductRequest, now: Date) {
    return super.authorize(organizationId, injected(request), now)
  }
  override authorizeMany(organizationId: string, requests: readonly ProductRequest[], now: Date) {
    return super.authorizeMany(organizationId, requests.map(injected), now)
  }
}
const injected = (request: ProductRequest): ProductRequest =>
  request.context?.inject_trap === true ? { ...request, context: trappingContext() } : request

beforeAll(async () => {
  h = await startHarness({ decisions: (db) => new TrapInjectingDecisions(db) })
  const evil = await createOrg(h, 'Evil')
  attacker = as(h, evil.adminKey)
  victim = await createOrg(h, 'Victim')
  victimApi = as(h, victim.adminKey)
  svc = await createServiceKey(h)
  ask = decider(h, svc, victim.id)
  victimWs = (await victimApi.create('/v1/workspaces', { name: 'Product' })).id
  dev = (
    await victimApi.create('/v1/members', {
      email: email(),
      name: 'Dev',
      workspaces: [{ workspace_id: victimWs, roles: ['dev'] }],
    })
  ).id
})
afterAll(() => h.close())

describe('deeply nested policy text', () => {
  it('is refused with 400 on validate (100 parentheses twice, then 500) and other tenants are unaffected', async () => {
    await victimStillWorks()
    for (const depth of [100, 100, 500]) {
      const res = await attacker.post('/v1/policies/validate', { cedar: nested(depth) })
      expectRefused(res, 'cedar')
      expect(res.body.error.message).toMatch(/nest/i)
    }
    await victimStillWorks()
  })

  it('is refused for every kind of bracket, and on PUT, which stores nothing', async () => {
    for (const [open, close] of [
      ['[', ']'],
      ['{a:', '}'],
    ] as const) {
      expectRefused(
        await attacker.post('/v1/policies/validate', { cedar: nested(300, open, close) }),
        'cedar'
      )
    }
    expectRefused(await attacker.put('/v1/policies/deep', { cedar: nested(300) }), 'cedar')
    expect((await attacker.get('/v1/policies/deep')).status).toBe(404)
    await victimStillWorks()
  })

  it('the most complex policies the limits accept are decided by Cedar without a trap', async () => {
    const before = engineRebuilds
    const head = 'permit (principal, action in Action::"product_action", resource) when { '
    const levels = Math.min(MAX_POLICY_NESTING - 2, Math.floor((MAX_POLICY_DEPTH_BUDGET - 4) / 2))
    // Each fills the budget in one of the ways Cedar recurses: nesting, + chains, else-if
    // chains, attribute chains, and nesting with an operator at every level.
    const bodies = [
      `${'('.repeat(MAX_POLICY_NESTING - 2)}true${')'.repeat(MAX_POLICY_NESTING - 2)}`,
      `${Array(MAX_POLICY_DEPTH_BUDGET - 4)
        .fill('1')
        .join(' + ')} == 1`,
      `${'if false then false else '.repeat(MAX_POLICY_DEPTH_BUDGET - 4)}true`,
      `context has a && context${'.a'.repeat(MAX_POLICY_DEPTH_BUDGET - 6)} == 1`,
      `${'(1 + '.repeat(levels)}1${')'.repeat(levels)} == 1`,
    ]
    for (const body of bodies) {
      const res = await attacker.post('/v1/policies/validate', { cedar: `${head}${body} };` })
      expect(res.status, res.text).toBe(200)
    }
    expect(engineRebuilds).toBe(before)
    await victimStillWorks()
  })

  it('still accepts moderate nesting, and brackets inside strings and comments do not count', async () => {
    const ok = await attacker.post('/v1/policies/validate', { cedar: nested(20) })
    expect(ok.status, ok.text).toBe(200)
    const inStrings = `// ${'('.repeat(500)}
permit (principal, action in Action::"product_action", resource)
when { context has model && context.model == "${'('.repeat(500)}\\"${'['.repeat(100)}" };`
    const res = await attacker.post('/v1/policies/validate', { cedar: inStrings })
    expect(res.status, res.text).toBe(200)
  })
})

describe('deeply nested decision context', () => {
  it('at the limit reaches Cedar, which answers without a trap', async () => {
    const before = engineRebuilds
    let value: unknown = 'x'
    for (let i = 1; i < MAX_CONTEXT_NESTING; i++) value = i % 2 ? [value] : { a: value }
    const res = await h.call('POST', '/v1/authorize', {
      key: svc,
      body: {
        organization_id: victim.id,
        principal: { type: 'Member', id: dev },
        action: 'use_studio',
        resource: { type: 'Workspace', id: victimWs },
        context: { model: value },
      },
    })
    expect(res.status, res.text).toBe(200)
    // The schema says `model` is a string: Cedar denies, naming the problem.
    expect(res.body).toMatchObject({ decision: 'deny', errors: [{ code: 'invalid_request' }] })
    expect(engineRebuilds).toBe(before)
  })

  it('is refused with 400 naming context, and the next decision is right', async () => {
    let value: unknown = 'x'
    for (let i = 0; i < 2000; i++) value = { a: value }
    let set: unknown = 'x'
    for (let i = 0; i < 2000; i++) set = [set]
    for (const context of [{ model: value }, { model: set }]) {
      const res = await h.call('POST', '/v1/authorize', {
        key: svc,
        body: {
          organization_id: victim.id,
          principal: { type: 'Member', id: dev },
          action: 'use_studio',
          resource: { type: 'Workspace', id: victimWs },
          context,
        },
      })
      expectRefused(res, 'context')
    }
    await victimStillWorks()
  })

  it("in a batch is that request's own deny; the others are decided", async () => {
    let deep: unknown = 'x'
    for (let i = 0; i < 2000; i++) deep = { a: deep }
    const item = (context?: Record<string, unknown>) => ({
      principal: { type: 'Member', id: dev },
      action: 'use_studio',
      resource: { type: 'Workspace', id: victimWs },
      ...(context ? { context } : {}),
    })
    const res = await h.call('POST', '/v1/authorize/batch', {
      key: svc,
      body: { organization_id: victim.id, requests: [item(), item({ model: deep }), item()] },
    })
    expect(res.status, res.text).toBe(200)
    expect(res.body.results.map((r: { decision: string }) => r.decision)).toEqual([
      'allow',
      'deny',
      'allow',
    ])
    expect(res.body.results[1].errors[0]).toMatchObject({ code: 'invalid_request' })
    expect(res.body.results[1].errors[0].message).toMatch(/nest/)
  })
})

describe('a trap inside cedar-wasm that gets past the limits', () => {
  const studio = (context?: Record<string, unknown>) => ({
    organization_id: victim.id,
    principal: { type: 'Member', id: dev },
    action: 'use_studio',
    resource: { type: 'Workspace', id: victimWs },
    ...(context ? { context } : {}),
  })

  it('fails that request with 503 and Retry-After, and the next decisions are right', async () => {
    const before = engineRebuilds
    const res = await h.call('POST', '/v1/authorize', {
      key: svc,
      body: studio({ inject_trap: true }),
    })
    expect(res.status, res.text).toBe(503)
    expect(res.headers.get('retry-after')).toBe('5')
    expect(res.body.error).toMatchObject({ type: 'unavailable', param: null })
    expect(typeof res.body.error.request_id).toBe('string')
    expect(engineRebuilds).toBe(before + 1)
    await victimStillWorks()
  })

  it("keeps applying every organization's custom policies after the engine is rebuilt", async () => {
    const forbid =
      '@id("no-opus")\nforbid (principal, action in Action::"product_action", resource) when { context has model && context.model == "opus" };'
    expect((await victimApi.put('/v1/policies/no-opus', { cedar: forbid })).status).toBe(201)
    const opus = () =>
      h.call('POST', '/v1/authorize', { key: svc, body: studio({ model: 'opus' }) })
    expect((await opus()).body).toMatchObject({
      decision: 'deny',
      determining_policies: [{ policy_id: 'no-opus' }],
    })
    // The trap, straight at the engine this time.
    expect(() =>
      decide(
        {
          principal: { type: 'Member', id: dev },
          action: 'use_studio',
          resource: { type: 'Workspace', id: victimWs },
          entities: [],
          context: trappingContext() as never,
        },
        builtinPolicySet
      )
    ).toThrow(EngineUnavailableError)
    expect((await opus()).body).toMatchObject({
      decision: 'deny',
      determining_policies: [{ policy_id: 'no-opus' }],
    })
    await victimStillWorks()
  })

  it('fails a batch that hits it with 503, and the next batch is decided', async () => {
    const batch = (context: Record<string, unknown>) =>
      h.call('POST', '/v1/authorize/batch', {
        key: svc,
        body: {
          organization_id: victim.id,
          requests: [studio(), studio(context)].map(({ organization_id, ...item }) => item),
        },
      })
    expect((await batch({ inject_trap: true })).status).toBe(503)
    const next = await batch({ model: 'sonnet' })
    expect(next.status, next.text).toBe(200)
    expect(next.body.results.map((r: { decision: string }) => r.decision)).toEqual([
      'allow',
      'allow',
    ])
  })
})
