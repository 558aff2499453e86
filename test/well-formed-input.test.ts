import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engineRebuilds } from '../functions/authz/engine.js'
import { as, type Caller } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createScimToken, SCIM, scimClient } from './helpers/scim.js'
import { createServiceKey } from './helpers/usage.js'

/**
 * A JSON body string that is not well-formed Unicode (a lone surrogate, sent as the escape
 * `\ud800`) is a 400 naming the field, wherever it is — before it can reach Cedar (whose wasm
 * fails on it) or the store (issue 10, item 6). Paired surrogates (emoji) are fine.
 */
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let api: Caller
let svc: string

const LONE = '\\ud800'
const POLICY = 'permit (principal, action in Action::\\"product_action\\", resource)'

/** Sends a raw JSON text, so the escape reaches the server as the client wrote it. */
const raw = (method: string, path: string, body: string, key = org.adminKey) =>
  h.call(method, path, { key, body })

function expectRefused(res: Awaited<ReturnType<Harness['call']>>, param: string) {
  expect(res.status, res.text).toBe(400)
  expect(res.body.error).toMatchObject({ type: 'invalid_request', param })
  expect(res.body.error.message).toMatch(/not valid Unicode/)
  expect(typeof res.body.error.request_id).toBe('string')
}

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  api = as(h, org.adminKey)
  svc = await createServiceKey(h)
})
afterAll(() => h.close())

describe('a lone surrogate', () => {
  it('in the id of POST /v1/policies/validate is a 400 naming id, and Cedar never sees it', async () => {
    const before = engineRebuilds
    expectRefused(
      await raw('POST', '/v1/policies/validate', `{"id":"${LONE}","cedar":"${POLICY};"}`),
      'id'
    )
    expect(engineRebuilds).toBe(before)
  })

  it('in the Cedar text or description of a policy is a 400, and nothing is stored', async () => {
    const before = engineRebuilds
    const inText = `{"cedar":"${POLICY} when { context has model && context.model == \\"${LONE}\\" };"}`
    expectRefused(await raw('POST', '/v1/policies/validate', inText), 'cedar')
    expectRefused(await raw('PUT', '/v1/policies/lone', inText), 'cedar')
    expectRefused(
      await raw('PUT', '/v1/policies/lone', `{"cedar":"${POLICY};","description":"a${LONE}b"}`),
      'description'
    )
    expect((await api.get('/v1/policies/lone')).status).toBe(404)
    expect(engineRebuilds).toBe(before)
  })

  it('in a decision context key or value is a 400 naming it', async () => {
    const ask = (context: string) =>
      raw(
        'POST',
        '/v1/authorize',
        `{"organization_id":"${org.id}","principal":{"type":"Member","id":"mem_x"},"action":"use_chat","resource":{"type":"Workspace","id":"${org.defaultWorkspaceId}"},"context":${context}}`,
        svc
      )
    expectRefused(await ask(`{"model":"${LONE}"}`), 'context.model')
    expectRefused(await ask(`{"x${LONE}":"opus"}`), `context.x${JSON.parse(`"${LONE}"`)}`)
  })

  it('in a field bound for the store is a 400, and nothing is written', async () => {
    const before = (await api.get('/v1/workspaces?limit=100')).body.data.length
    expectRefused(await raw('POST', '/v1/workspaces', `{"name":"Team ${LONE}"}`), 'name')
    expect((await api.get('/v1/workspaces?limit=100')).body.data.length).toBe(before)
  })

  it('in a SCIM body is a 400 in the SCIM error schema', async () => {
    const scim = scimClient(h, (await createScimToken(h, org.adminKey)).secret)
    const res = await scim.send(
      'POST',
      '/Users',
      `{"schemas":["${SCIM.user}"],"userName":"lone${LONE}@example.com","active":true}`
    )
    expect(res.status, res.text).toBe(400)
    expect(res.body).toMatchObject({
      schemas: [SCIM.error],
      status: '400',
      scimType: 'invalidValue',
    })
    expect((await scim.get('/Users')).body.totalResults).toBe(0)
  })

  it('paired surrogates (an emoji) are accepted', async () => {
    const res = await raw('POST', '/v1/workspaces', '{"name":"Team \\ud83d\\ude00"}')
    expect(res.status, res.text).toBe(201)
    expect(res.body.name).toBe('Team 😀')
  })
})
