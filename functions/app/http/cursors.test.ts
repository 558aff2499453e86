import fc from 'fast-check'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { Principal } from '../../domain/context.js'
import { AppError } from '../../lib/errors.js'
import { deriveCursorKey, openCursor, sealCursor } from './cursors.js'
import type { AppEnv, RequestDeps } from './env.js'

/**
 * A bare Hono app with only what cursors read: the cursor key, the principal and the request.
 * `x-seal` asks for a cursor of that position (base64url, so that any text fits a header); without it the route opens `?after` (or `?page`).
 */
function cursorApp(operatorKey = 'op_test-operator-key-0001') {
  const cursorKey = deriveCursorKey(operatorKey)
  const app = new Hono<AppEnv>()
  app.use('*', async (c, next) => {
    c.set('deps', { cursorKey } as unknown as RequestDeps)
    const org = c.req.header('x-org')
    const principal: Principal = org
      ? { kind: 'admin', id: 'adk_1', organizationId: org, orgRoles: ['organization_admin'] }
      : { kind: 'operator', id: 'operator' }
    c.set('principal', principal)
    await next()
  })
  app.get('/v1/*', (c) => {
    const sealing = c.req.header('x-seal')
    if (sealing !== undefined) {
      return c.json({ cursor: sealCursor(c, Buffer.from(sealing, 'base64url').toString('utf8')) })
    }
    return c.json({
      position: openCursor(c, c.req.query('param') === 'page' ? 'page' : 'after') ?? null,
    })
  })
  app.onError((error, c) => {
    if (!(error instanceof AppError)) throw error
    return c.json({ type: error.type, param: error.param }, 400)
  })
  return app
}

const seal = async (app: Hono<AppEnv>, url: string, position: string, org = 'org_a') => {
  const res = await app.request(url, {
    headers: { 'x-seal': Buffer.from(position).toString('base64url'), 'x-org': org },
  })
  return ((await res.json()) as { cursor: string }).cursor
}
const open = async (app: Hono<AppEnv>, url: string, org = 'org_a') => {
  const res = await app.request(url, { headers: { 'x-org': org } })
  return { status: res.status, body: await res.json() }
}
const withCursor = (url: string, cursor: string, param = 'after') =>
  `${url}${url.includes('?') ? '&' : '?'}${param}=${encodeURIComponent(cursor)}`

describe('cursors', () => {
  const app = cursorApp()

  it('open to the position they were sealed with, whatever it holds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 }),
        async (position) => {
          const cursor = await seal(app, '/v1/members?status=active', position)
          expect(cursor).toMatch(/^c1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/)
          expect(await open(app, withCursor('/v1/members?status=active', cursor))).toEqual({
            status: 200,
            body: { position },
          })
        }
      ),
      { numRuns: 50 }
    )
  })

  it('are absent when the request has none', async () => {
    expect(await open(app, '/v1/members')).toEqual({ status: 200, body: { position: null } })
  })

  it('do not bind the paging parameters, and ignore the order of the filters', async () => {
    const cursor = await seal(app, '/v1/usage?group_by=model&bucket=1d&limit=10', 'p1')
    const url = withCursor('/v1/usage?limit=50&bucket=1d&format=csv&group_by=model', cursor)
    expect(await open(app, url)).toEqual({ status: 200, body: { position: 'p1' } })
  })

  it('are bound to the route, the organization and the filters', async () => {
    const cursor = await seal(app, '/v1/workspaces/ws_1/members?role=admin', 'pos')
    const refused = { status: 400, body: { type: 'invalid_request', param: 'after' } }
    const cases = [
      ['/v1/workspaces/ws_2/members?role=admin', 'org_a'], // another workspace
      ['/v1/workspaces/ws_1/api-keys?role=admin', 'org_a'], // another list
      ['/v1/workspaces/ws_1/members?role=admin', 'org_b'], // another organization
      ['/v1/workspaces/ws_1/members?role=member', 'org_a'], // another filter value
      ['/v1/workspaces/ws_1/members', 'org_a'], // a filter dropped
      ['/v1/workspaces/ws_1/members?role=admin&status=active', 'org_a'], // a filter added
    ] as const
    for (const [url, org] of cases)
      expect(await open(app, withCursor(url, cursor), org)).toEqual(refused)
    expect(await open(app, withCursor('/v1/workspaces/ws_1/members?role=admin', cursor))).toEqual({
      status: 200,
      body: { position: 'pos' },
    })
  })

  it('from another deployment (operator key) are refused', async () => {
    const cursor = await seal(cursorApp('op_another-operator-key-02'), '/v1/members', 'pos')
    expect((await open(app, withCursor('/v1/members', cursor))).status).toBe(400)
  })

  it('are refused when changed in any way, including non-canonical spellings', async () => {
    const cursor = await seal(app, '/v1/members', 'member:mem_1')
    const [version, payload, mac] = cursor.split('.') as [string, string, string]
    const forged = Buffer.from('member:mem_2').toString('base64url')
    for (const changed of [
      `${version}.${forged}.${mac}`,
      `c2.${payload}.${mac}`,
      `${version}.${payload}.${mac.slice(0, -1)}`,
      `${version}.${payload}.${mac}A`,
      `${version}.${payload}.${mac}.extra`,
      `${version}.${payload}=.${mac}`, // padding: the same bytes, another spelling
      `${version}.${payload}`,
      'member:mem_1',
      '',
    ]) {
      expect(await open(app, withCursor('/v1/members', changed))).toEqual({
        status: 400,
        body: { type: 'invalid_request', param: 'after' },
      })
    }
  })

  it('name the parameter they came in (page for reports)', async () => {
    const cursor = await seal(app, '/v1/usage?param=page', 'bucket-1')
    expect(await open(app, withCursor('/v1/usage?param=page', cursor, 'page'))).toEqual({
      status: 200,
      body: { position: 'bucket-1' },
    })
    expect(await open(app, withCursor('/v1/usage?param=page', 'forged', 'page'))).toEqual({
      status: 400,
      body: { type: 'invalid_request', param: 'page' },
    })
  })

  it('stay null at the end of a list', async () => {
    const app2 = new Hono<AppEnv>()
    app2.get('/', (c) => c.json({ cursor: sealCursor(c, null) }))
    expect(await (await app2.request('/')).json()).toEqual({ cursor: null })
  })
})
