import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, listAll } from './helpers/admin-model.js'
import { contractErrorProblems } from './helpers/contract-errors.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import {
  createScimToken,
  expectScimError,
  newUser,
  type ScimClient,
  scimClient,
} from './helpers/scim.js'

/** A JSON string with an unpaired surrogate ("\ud800") is refused before anything stores it. */
let h: Harness
let api: Caller
let idp: ScimClient
let workspace: string
let scimToken: string

beforeAll(async () => {
  h = await startHarness()
  const org = await createOrg(h)
  api = as(h, org.adminKey)
  scimToken = (await createScimToken(h, org.adminKey)).secret
  idp = scimClient(h, scimToken)
  workspace = (await api.create('/v1/workspaces', { name: 'Kept' })).id
})
afterAll(() => h.close())

describe('strings that are not well-formed Unicode', () => {
  it('are refused with 400 naming the field, and nothing is created or changed', async () => {
    const before = await listAll(api, '/v1/workspaces')
    for (const name of ['a\ud800', '\udfff', 'x\ud83d', '\ud800\ud800']) {
      const created = await api.post('/v1/workspaces', { name })
      expect(created.status, JSON.stringify(name)).toBe(400)
      expect(contractErrorProblems(created)).toEqual([])
      expect(created.body.error).toMatchObject({ type: 'invalid_request', param: 'name' })
      const renamed = await api.patch(`/v1/workspaces/${workspace}`, { name })
      expect(renamed.status).toBe(400)
    }
    // In a nested value and in a key too.
    const nested = await api.post('/v1/members', {
      email: 'nested@example.com',
      name: 'Nested',
      workspaces: [{ workspace_id: workspace, roles: ['user\udc00'] }],
    })
    expect(nested.body.error).toMatchObject({
      type: 'invalid_request',
      param: 'workspaces.0.roles.0',
    })
    const key = await api.post('/v1/workspaces', { name: 'ok', 'k\ud800': 1 })
    expect(key.status).toBe(400)
    expect(await listAll(api, '/v1/workspaces')).toEqual(before)
    expect((await api.get(`/v1/workspaces/${workspace}`)).body).toMatchObject({
      name: 'Kept',
      version: 1,
    })
  })

  it('are refused in the SCIM Error schema on /scim/v2', async () => {
    const res = await idp.post(
      '/Users',
      newUser('lone@example.com', { displayName: 'Lone \ud800' })
    )
    expectScimError(res, 400, 'invalidValue')
    // Identity providers may omit the content type; the body is still JSON.
    const untyped = await h.app.request('/scim/v2/Users', {
      method: 'POST',
      headers: { authorization: `Bearer ${scimToken}` },
      body: new TextEncoder().encode(
        JSON.stringify(newUser('lone@example.com', { displayName: '\udfff' }))
      ),
    })
    expect(untyped.status).toBe(400)
    expect((await idp.get('/Users?filter=userName eq "lone@example.com"')).body.totalResults).toBe(
      0
    )
  })

  it('leave well-formed text alone: a surrogate pair (emoji) is accepted', async () => {
    const res = await api.post('/v1/workspaces', { name: 'Rocket 🚀' })
    expect(res.status).toBe(201)
    expect(res.body.name).toBe('Rocket 🚀')
  })
})
