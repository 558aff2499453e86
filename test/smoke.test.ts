import { afterAll, beforeAll, expect, it } from 'vitest'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(() => h.close())

it('smoke', async () => {
  const health = await h.call('GET', '/health')
  expect(health.status).toBe(200)
  const org = await createOrg(h)
  const ws = await h.call('POST', '/v1/workspaces', {
    key: org.adminKey,
    body: { name: 'Research' },
  })
  console.log(ws.status, ws.body)
  const list = await h.call('GET', '/v1/workspaces', { key: org.adminKey })
  console.log(list.body)
  const bad = await h.call('POST', '/v1/workspaces', { key: org.adminKey, body: '{bad' })
  console.log(bad.status, bad.body)
  const nobody = await h.call('POST', '/v1/workspaces', { key: org.adminKey })
  console.log(nobody.status, nobody.body)
  const roles = await h.call('GET', '/v1/roles', { key: org.adminKey })
  console.log(JSON.stringify(roles.body))
  const audit = await h.call('GET', '/v1/audit-events?format=csv', { key: org.adminKey })
  console.log(audit.text)
})
