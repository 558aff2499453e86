import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONSOLE_CSP } from '../functions/app/routes/console.js'
import { buildConsole } from '../scripts/build-console.js'
import { contractErrorProblems } from './helpers/contract-errors.js'
import { type ApiResponse, createOrg, type Harness, startHarness } from './helpers/harness.js'

function expectContractError(res: ApiResponse, status: number, type: string): void {
  expect(res.status).toBe(status)
  expect(contractErrorProblems(res)).toEqual([])
  expect(res.body.error.type).toBe(type)
}

/** The console's files as the app serves them, and GET /v1/me, which the console signs in with. */
const consoleDir = join(mkdtempSync(join(tmpdir(), 'console-route-')), 'dist')
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>

beforeAll(async () => {
  // The app is created before the console exists: it must read the files on first request only.
  h = await startHarness({ consoleDir })
  org = await createOrg(h)
  await buildConsole(consoleDir)
})
afterAll(async () => {
  await h.close()
  rmSync(join(consoleDir, '..'), { recursive: true, force: true })
})

async function adminKey(roles: string[]): Promise<string> {
  const res = await h.call('POST', '/v1/admin-keys', {
    key: org.adminKey,
    body: { name: roles.join('+'), org_roles: roles },
  })
  expect(res.status).toBe(201)
  return res.body.secret
}

describe('GET /console', () => {
  it('serves the page and its hashed assets, self-only CSP on each', async () => {
    const page = await h.call('GET', '/console')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(page.headers.get('content-security-policy')).toBe(CONSOLE_CSP)
    expect(page.headers.get('cache-control')).toBe('no-cache')
    // No inline script or style, nothing from another origin.
    expect(page.text).not.toMatch(/<script>|<style|https?:\/\//)
    const assets = [...page.text.matchAll(/\/console\/assets\/([\w-]+\.(?:js|css))/g)].map(
      (m) => m[1]!
    )
    expect(assets.map((name) => name.split('.').pop()).sort()).toEqual(['css', 'js'])
    for (const name of assets) {
      const asset = await h.call('GET', `/console/assets/${name}`)
      expect(asset.status).toBe(200)
      expect(asset.headers.get('content-type')).toMatch(name.endsWith('.js') ? /javascript/ : /css/)
      expect(asset.headers.get('content-security-policy')).toBe(CONSOLE_CSP)
      expect(asset.headers.get('cache-control')).toContain('immutable')
      expect(asset.text).toBe(readFileSync(join(consoleDir, name), 'utf8'))
    }
    expect(CONSOLE_CSP).toContain("script-src 'self'")
    expect(CONSOLE_CSP).toContain("default-src 'none'")
  })

  it('answers a name it did not build, or a path, with the contract 404', async () => {
    for (const path of [
      '/console/assets/app-000000000000.js',
      '/console/assets/..%2Fpackage.json',
      '/console/assets/index.html',
    ]) {
      const res = await h.call('GET', path)
      expectContractError(res, 404, 'not_found')
    }
  })

  it('says how to build the console when it is not built', async () => {
    const bare = await startHarness({ consoleDir: join(consoleDir, 'missing') })
    try {
      const res = await bare.call('GET', '/console')
      expectContractError(res, 404, 'not_found')
      expect(res.body.error.message).toContain('npm run build:console')
    } finally {
      await bare.close()
    }
  })
})

describe('GET /v1/me', () => {
  it('names the key, its organization and the Admin actions the policies allow it', async () => {
    const res = await h.call('GET', '/v1/me', { key: org.adminKey })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      object: 'admin_key_session',
      admin_key_id: org.adminKeyId,
      organization_id: org.id,
      organization_name: 'Acme',
      org_roles: ['organization_admin'],
    })
    expect(res.body.allowed_actions).toEqual(
      expect.arrayContaining(['manage_members', 'update_spend_limits', 'manage_workspace_access'])
    )
  })

  it('a billing_manager may change spend limits and seats, not members; the routes agree', async () => {
    const billing = await adminKey(['billing_manager'])
    const me = await h.call('GET', '/v1/me', { key: billing })
    expect(me.status).toBe(200)
    const allowed: string[] = me.body.allowed_actions
    expect(allowed).toEqual(expect.arrayContaining(['update_spend_limits', 'manage_seats']))
    for (const action of ['manage_members', 'manage_groups', 'manage_workspace_access']) {
      expect(allowed).not.toContain(action)
    }
    // What /v1/me leaves out, the route refuses.
    const forced = await h.call('POST', '/v1/members', {
      key: billing,
      body: { email: 'x@example.com', name: 'X' },
    })
    expectContractError(forced, 403, 'permission')
  })

  it('needs an admin key', async () => {
    expectContractError(await h.call('GET', '/v1/me'), 401, 'authentication')
    expectContractError(await h.call('GET', '/v1/me', { key: h.operatorKey }), 403, 'permission')
  })
})
