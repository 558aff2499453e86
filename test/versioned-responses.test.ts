import { afterAll, beforeAll, expect, it } from 'vitest'
import { type ApiResponse, createOrg, type Harness, startHarness } from './helpers/harness.js'

/**
 * Every route that answers a versioned record ends in one helper (respondWithVersion in
 * functions/app/http/handlers.ts): the ETag is the version of the record in the body, which a
 * client sends back as If-Match; a record without a version (a built-in policy) has no ETag.
 */

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
})
afterAll(() => h.close())

const admin = (method: string, path: string, body?: unknown) =>
  h.call(method, path, { key: org.adminKey, body })

function expectVersionTag(res: ApiResponse, status: number): ApiResponse {
  expect(res.status, res.text).toBe(status)
  expect(typeof res.body.version).toBe('number')
  expect(res.headers.get('etag')).toBe(`"${res.body.version}"`)
  return res
}

it('answers each versioned record with its version as the ETag', async () => {
  expectVersionTag(await admin('GET', '/v1/organization'), 200)
  expectVersionTag(await admin('PATCH', '/v1/organization', { name: 'Acme 2' }), 200)

  const ws = expectVersionTag(await admin('POST', '/v1/workspaces', { name: 'Research' }), 201)
  const wsPath = `/v1/workspaces/${ws.body.id}`
  expectVersionTag(await admin('GET', wsPath), 200)
  expectVersionTag(await admin('PATCH', wsPath, { description: 'papers' }), 200)
  expectVersionTag(await admin('POST', `${wsPath}/archive`), 200)
  expectVersionTag(await admin('POST', `${wsPath}/unarchive`), 200)

  const member = expectVersionTag(
    await admin('POST', '/v1/members', { email: 'ada@example.com', name: 'Ada' }),
    201
  )
  const memberPath = `/v1/members/${member.body.id}`
  expectVersionTag(await admin('GET', memberPath), 200)
  expectVersionTag(await admin('PATCH', memberPath, { name: 'Ada L.' }), 200)

  const group = expectVersionTag(await admin('POST', '/v1/groups', { name: 'Eng' }), 201)
  const sub = expectVersionTag(await admin('POST', '/v1/groups', { name: 'Eng-EU' }), 201)
  const groupPath = `/v1/groups/${group.body.id}`
  expectVersionTag(await admin('GET', groupPath), 200)
  expectVersionTag(await admin('PATCH', groupPath, { name: 'Engineering' }), 200)
  expectVersionTag(await admin('PUT', `${groupPath}/subgroups/${sub.body.id}`), 200)
  expectVersionTag(await admin('DELETE', `${groupPath}/subgroups/${sub.body.id}`), 200)

  const grant = `${wsPath}/access/groups/${group.body.id}`
  expectVersionTag(await admin('PUT', grant, { roles: ['user'] }), 201)
  expectVersionTag(await admin('PUT', grant, { roles: ['workspace_admin'] }), 200)

  expectVersionTag(await admin('PUT', '/v1/seats/chat', { purchased: 5 }), 200)

  const limit = { monthly_limit: '100', alert_thresholds_percent: [50], enforcement: 'soft' }
  expectVersionTag(await admin('GET', '/v1/spend-limit'), 200)
  expectVersionTag(await admin('PUT', '/v1/spend-limit', limit), 200)
  expectVersionTag(await admin('GET', `${wsPath}/spend-limit`), 200)
  expectVersionTag(await admin('PUT', `${wsPath}/spend-limit`, limit), 200)

  expectVersionTag(await admin('GET', '/v1/prices'), 200)
  expectVersionTag(await admin('PUT', '/v1/prices', { prices: [] }), 200)

  const cedar = 'forbid (principal, action == Action::"use_chat", resource);'
  const policy = expectVersionTag(await admin('PUT', '/v1/policies/no-chat', { cedar }), 201)
  expect(policy.body.version).toBe(1)
  expectVersionTag(await admin('PUT', '/v1/policies/no-chat', { cedar: `${cedar}\n` }), 200)
  expectVersionTag(await admin('GET', '/v1/policies/no-chat'), 200)

  const invite = await admin('POST', '/v1/invites', { email: 'grace@example.com' })
  const accepted = await h.call('POST', '/v1/invites/accept', {
    body: { token: invite.body.token, name: 'Grace' },
  })
  expectVersionTag(accepted, 201)
})

it('answers a built-in policy, which has no version, without an ETag', async () => {
  const list = await admin('GET', '/v1/policies?limit=100')
  const builtin = list.body.data.find((policy: { version: unknown }) => policy.version === null)
  expect(builtin).toBeDefined()
  const res = await admin('GET', `/v1/policies/${builtin.id}`)
  expect(res.status).toBe(200)
  expect(res.body.version).toBeNull()
  expect(res.headers.get('etag')).toBeNull()
})
