import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, email, listAll } from './helpers/admin-model.js'
import { decider } from './helpers/decisions.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey } from './helpers/usage.js'

/** GET|PUT|DELETE /v1/policies/{id}, GET /v1/policies, /validate and /schema through HTTP. */
let h: Harness
let api: Caller
let org: Awaited<ReturnType<typeof createOrg>>
let other: Awaited<ReturnType<typeof createOrg>>
let ask: ReturnType<typeof decider>
let ws: string

const NO_OPUS = `// Nobody uses the most expensive model in chat.
forbid (principal, action == Action::"use_chat", resource)
when { context has model && context.model == "claude-opus-4" };`

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  other = await createOrg(h, 'Other')
  api = as(h, org.adminKey)
  ask = decider(h, await createServiceKey(h), org.id)
  ws = (await api.create('/v1/workspaces', { name: 'Product' })).id
})
afterAll(() => h.close())

describe('built-in policies', () => {
  it('are listed with ids, effects, descriptions and Cedar, and cannot be replaced or deleted', async () => {
    const all = await listAll<{ id: string; source: string; effect: string; description: string }>(
      api,
      '/v1/policies'
    )
    const ids = all.map((p) => p.id)
    expect(ids).toEqual(
      expect.arrayContaining(['ws-dev', 'forbid-archived-workspace', 'org-admin', 'api-key-invoke'])
    )
    expect(all.every((p) => p.source === 'builtin' && p.description !== '')).toBe(true)
    const one = await api.get('/v1/policies/forbid-expired-key')
    expect(one.status).toBe(200)
    expect(one.body).toMatchObject({ source: 'builtin', effect: 'forbid', version: null })
    expect(one.body.cedar).toContain('principal.expires_at <= context.now')
    const put = await api.put('/v1/policies/ws-dev', { cedar: NO_OPUS })
    expect(put.status).toBe(409)
    expect((await api.delete('/v1/policies/ws-dev')).status).toBe(409)
    expect((await api.get('/v1/policies/nope')).status).toBe(404)
  })
})

describe('custom policies', () => {
  it('a custom forbid restricts a built-in grant on the next decision, and names itself', async () => {
    const m = (
      await api.create('/v1/members', {
        email: email(),
        name: 'M',
        workspaces: [{ workspace_id: ws, roles: ['user'] }],
      })
    ).id
    const chat = (model: string) => ({
      principal: { type: 'Member' as const, id: m },
      action: 'use_chat',
      workspace: ws,
      context: { model },
    })
    expect(await ask.summary(chat('claude-opus-4'))).toBe('allow:ws-user-chat')
    const put = await api.put('/v1/policies/no-opus-chat', {
      cedar: NO_OPUS,
      description: 'No Opus in chat',
    })
    expect(put.status).toBe(201)
    expect(put.headers.get('etag')).toBe('"1"')
    expect(put.body).toMatchObject({
      id: 'no-opus-chat',
      object: 'policy',
      source: 'custom',
      effect: 'forbid',
      description: 'No Opus in chat',
      organization_id: org.id,
      version: 1,
      cedar: NO_OPUS,
    })
    expect(await ask.one(chat('claude-opus-4'))).toEqual({
      decision_id: expect.stringMatching(/^dec_/),
      decision: 'deny',
      determining_policies: [{ policy_id: 'no-opus-chat', description: 'No Opus in chat' }],
      errors: [],
    })
    expect(await ask.summary(chat('claude-sonnet-4'))).toBe('allow:ws-user-chat')
    // Another organization is not affected.
    const otherApi = as(h, other.adminKey)
    expect((await otherApi.get('/v1/policies/no-opus-chat')).status).toBe(404)
  })

  it('a custom permit extends access but never beats a guardrail', async () => {
    const g = (await api.create('/v1/groups', { name: 'studio-everywhere' })).id
    const m = (await api.create('/v1/members', { email: email(), name: 'M' })).id
    await api.put(`/v1/groups/${g}/members/${m}`)
    const studio = {
      principal: { type: 'Member' as const, id: m },
      action: 'use_studio',
      workspace: ws,
    }
    expect(await ask.summary(studio)).toBe('deny')
    const cedar = `@description("the group may use Studio everywhere")
permit (principal in Group::"${g}", action == Action::"use_studio", resource is Workspace);`
    expect((await api.put('/v1/policies/studio-group', { cedar })).status).toBe(201)
    expect(await ask.summary(studio)).toBe('allow:studio-group')
    expect((await api.get('/v1/policies/studio-group')).body.description).toBe(
      'the group may use Studio everywhere'
    )
    await api.patch(`/v1/members/${m}`, { status: 'deactivated' })
    expect(await ask.summary(studio)).toBe('deny:forbid-deactivated-member')
    await api.delete('/v1/policies/studio-group')
  })

  it('replaces with versions and If-Match, keeps an unchanged PUT unchanged, and audits', async () => {
    const first = await api.put('/v1/policies/versioned', { cedar: NO_OPUS })
    expect(first.status).toBe(201)
    expect(first.body.description).toBe('')
    const same = await api.put('/v1/policies/versioned', { cedar: NO_OPUS })
    expect(same.status).toBe(200)
    expect(same.body.version).toBe(1)
    const changed = await api.put(
      '/v1/policies/versioned',
      { cedar: NO_OPUS, description: 'described' },
      { 'if-match': '"1"' }
    )
    expect(changed.status).toBe(200)
    expect(changed.body.version).toBe(2)
    const stale = await api.put('/v1/policies/versioned', { cedar: NO_OPUS }, { 'if-match': '"1"' })
    expect(stale.status).toBe(412)
    expect((await api.delete('/v1/policies/versioned', { 'if-match': '"1"' })).status).toBe(412)
    const deleted = await api.delete('/v1/policies/versioned', { 'if-match': '"2"' })
    expect(deleted.body).toEqual({ object: 'policy.deleted', id: 'versioned', deleted: true })
    expect((await api.get('/v1/policies/versioned')).status).toBe(404)
    expect((await api.delete('/v1/policies/versioned')).status).toBe(404)
    const audit = await api.get('/v1/audit-events?target_id=versioned')
    expect(audit.body.data.map((e: { event_type: string }) => e.event_type)).toEqual([
      'policy.deleted',
      'policy.updated',
      'policy.created',
    ])
  })

  it('lists built-in policies then custom ones, page by page', async () => {
    for (const id of ['a-one', 'b-two']) await api.put(`/v1/policies/${id}`, { cedar: NO_OPUS })
    const pages = await listAll<{ id: string; source: string }>(api, '/v1/policies', 7)
    const sources = pages.map((p) => p.source)
    expect(sources.indexOf('custom')).toBe(sources.lastIndexOf('builtin') + 1)
    expect(pages.filter((p) => p.source === 'custom').map((p) => p.id)).toEqual([
      'a-one',
      'b-two',
      'no-opus-chat',
    ])
    expect(new Set(pages.map((p) => p.id)).size).toBe(pages.length)
    const foreign = await as(h, other.adminKey).get(
      `/v1/policies?limit=1&after=${(await api.get('/v1/policies?limit=1')).body.next_cursor}`
    )
    expect(foreign.status).toBe(400)
    for (const id of ['a-one', 'b-two']) await api.delete(`/v1/policies/${id}`)
  })
})

describe('validation', () => {
  it("rejects a type error with Cedar's message and where it points", async () => {
    const cedar = `permit (principal is Member, action == Action::"use_chat", resource)
when { principal.nickname == "x" };`
    const res = await api.put('/v1/policies/typo', { cedar })
    expect(res.status).toBe(400)
    expect(res.body.error.type).toBe('invalid_request')
    expect(res.body.error.param).toBe('cedar')
    const [diagnostic] = res.body.error.diagnostics
    expect(diagnostic.message).toContain('nickname')
    expect(diagnostic).toMatchObject({ line: 2, column: 8, end_line: 2 })
    expect((await api.get('/v1/policies/typo')).status).toBe(404)
  })

  it('rejects a syntax error with its position', async () => {
    const res = await api.post('/v1/policies/validate', {
      cedar: 'permit (principal, action, resource)\nwhen { 1 + };',
    })
    expect(res.status).toBe(400)
    expect(res.body.error.diagnostics[0]).toMatchObject({ line: 2, column: 12 })
  })

  it('accepts only policies about product actions, one per id, without slots', async () => {
    const cases: [string, RegExp][] = [
      ['forbid (principal, action, resource);', /only govern product actions.*manage_members/],
      [`${NO_OPUS}\n${NO_OPUS}`, /exactly one policy/],
      ['permit (principal == ?principal, action == Action::"use_chat", resource);', /Templates/],
      [`@id("elsewhere")\n${NO_OPUS}`, /must equal the policy id/],
      [
        'permit (principal is AdminKey, action == Action::"read_members", resource);',
        /product actions/,
      ],
    ]
    for (const [cedar, message] of cases) {
      const res = await api.put('/v1/policies/bad', { cedar })
      expect(res.status, cedar).toBe(400)
      expect(res.body.error.diagnostics[0].message, cedar).toMatch(message)
    }
    expect((await api.put('/v1/policies/Bad_Id', { cedar: NO_OPUS })).status).toBe(400)
    expect((await api.put('/v1/policies/schema', { cedar: NO_OPUS })).status).toBe(400)
    const huge = `${NO_OPUS}\n// ${'x'.repeat(10_000)}`
    expect((await api.put('/v1/policies/huge', { cedar: huge })).body.error.message).toMatch(
      /10000 bytes/
    )
  })

  it('validates without storing, taking the id from @id', async () => {
    const before = await listAll(api, '/v1/policies')
    const res = await api.post('/v1/policies/validate', { cedar: `@id("dry-run")\n${NO_OPUS}` })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      object: 'policy_validation',
      valid: true,
      id: 'dry-run',
      effect: 'forbid',
      description: '',
      warnings: [],
    })
    expect(await listAll(api, '/v1/policies')).toEqual(before)
  })

  it('serves the schema as Cedar text and JSON', async () => {
    const res = await api.get('/v1/policies/schema')
    expect(res.status).toBe(200)
    expect(res.body.cedar).toContain('entity Workspace in [Organization]')
    expect(JSON.stringify(res.body.json)).toContain('product_action')
  })
})

describe('permissions', () => {
  it('billing_manager may read policies but not change them; member neither', async () => {
    const billing = (
      await api.create('/v1/admin-keys', { name: 'b', org_roles: ['billing_manager'] })
    ).secret
    const reader = (await api.create('/v1/admin-keys', { name: 'r', org_roles: ['member'] })).secret
    expect((await h.call('GET', '/v1/policies', { key: billing })).status).toBe(200)
    expect(
      (await h.call('PUT', '/v1/policies/x', { key: billing, body: { cedar: NO_OPUS } })).status
    ).toBe(403)
    expect((await h.call('GET', '/v1/policies', { key: reader })).status).toBe(403)
    expect((await h.call('GET', '/v1/policies/schema', { key: reader })).status).toBe(403)
  })
})
