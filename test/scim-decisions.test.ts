import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller } from './helpers/admin-model.js'
import { decider } from './helpers/decisions.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createScimToken, newUser, SCIM, type ScimClient, scimClient } from './helpers/scim.js'
import { createServiceKey } from './helpers/usage.js'

/**
 * What offboarding through an identity provider must achieve: the very next product decision
 * for a user the provider deactivates is a deny (naming the guardrail), reactivation restores
 * access, the user's API keys stop working with them, and a deleted user is unknown.
 */
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let admin: Caller
let idp: ScimClient
let ask: ReturnType<typeof decider>

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h, 'Offboarding')
  admin = as(h, org.adminKey)
  idp = scimClient(h, (await createScimToken(h, org.adminKey, 'IdP')).secret)
  ask = decider(h, await createServiceKey(h), org.id)
})
afterAll(() => h.close())

/** Provisions a user through SCIM and gives it `dev` in the default workspace. */
async function provision(userName: string): Promise<string> {
  const created = await idp.post('/Users', newUser(userName))
  expect(created.status).toBe(201)
  const id = created.body.id as string
  const granted = await admin.put(`/v1/workspaces/${org.defaultWorkspaceId}/access/members/${id}`, {
    roles: ['dev'],
  })
  expect(granted.status).toBe(200)
  return id
}

const studio = (id: string) =>
  ask.summary({
    principal: { type: 'Member', id },
    action: 'use_studio',
    workspace: org.defaultWorkspaceId,
  })

describe('SCIM deactivation and product decisions', () => {
  it("Okta's deactivation (replace without path) denies the next decision; reactivation allows", async () => {
    const id = await provision('okta.user@example.com')
    expect(await studio(id)).toBe('allow:ws-dev')
    const off = await idp.patch(`/Users/${id}`, [{ op: 'replace', value: { active: false } }])
    expect(off.status).toBe(200)
    expect(await studio(id)).toBe('deny:forbid-deactivated-member')
    const on = await idp.patch(`/Users/${id}`, [{ op: 'replace', value: { active: true } }])
    expect(on.status).toBe(200)
    expect(await studio(id)).toBe('allow:ws-dev')
  })

  it("Entra's capitalised op with a string boolean does the same", async () => {
    const id = await provision('entra.user@example.com')
    await idp.patch(`/Users/${id}`, [{ op: 'Replace', path: 'active', value: 'False' }])
    expect(await studio(id)).toBe('deny:forbid-deactivated-member')
    await idp.patch(`/Users/${id}`, [{ op: 'Replace', path: 'active', value: 'True' }])
    expect(await studio(id)).toBe('allow:ws-dev')
  })

  it("a deactivated user's workspace API key is refused too", async () => {
    const id = await provision('key.owner@example.com')
    const key = await admin.create('/v1/api-keys', {
      name: 'owner key',
      workspace_id: org.defaultWorkspaceId,
      member_id: id,
    })
    const invoke = () =>
      ask.summary({
        principal: { type: 'ApiKey', id: key.id },
        action: 'invoke_model',
        workspace: org.defaultWorkspaceId,
      })
    expect(await invoke()).toBe('allow:api-key-invoke')
    await idp.put(`/Users/${id}`, {
      ...newUser('key.owner@example.com'),
      schemas: [SCIM.user],
      active: false,
    })
    expect(await invoke()).toBe('deny:forbid-key-of-deactivated-member')
  })

  it('a user the provider deletes is unknown to the next decision', async () => {
    const id = await provision('deleted.user@example.com')
    expect((await idp.delete(`/Users/${id}`)).status).toBe(204)
    const decision = await ask.one({
      principal: { type: 'Member', id },
      action: 'use_studio',
      workspace: org.defaultWorkspaceId,
    })
    expect(decision.decision).toBe('deny')
    expect(decision.errors.map((e) => e.message).join(' ')).toContain(id)
  })
})
