import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
})
afterAll(() => h.close())

async function workspaceNames(): Promise<string[]> {
  const res = await h.call('GET', '/v1/workspaces?limit=100', { key: org.adminKey })
  return res.body.data.map((w: { name: string }) => w.name)
}

describe('HTTP conventions', () => {
  it('answers /health without credentials', async () => {
    const res = await h.call('GET', '/health')
    expect(res.status).toBe(200)
    expect(res.body.status).toBe('ok')
  })

  it('gives every response an x-request-id, and echoes a caller-supplied one', async () => {
    const plain = await h.call('GET', '/health')
    expect(plain.headers.get('x-request-id')).toMatch(/^[\w-]{8,}$/)
    const echoed = await h.call('GET', '/v1/organization', {
      key: org.adminKey,
      headers: { 'x-request-id': 'trace-abc-123' },
    })
    expect(echoed.headers.get('x-request-id')).toBe('trace-abc-123')
    const failed = await h.call('GET', '/v1/organization', {
      headers: { 'x-request-id': 'trace-401' },
    })
    expect(failed.status).toBe(401)
    expect(failed.headers.get('x-request-id')).toBe('trace-401')
    expect(failed.body.error.request_id).toBe('trace-401')
  })

  it('refuses malformed JSON with 400 in the error shape and writes nothing', async () => {
    const before = await workspaceNames()
    const res = await h.call('POST', '/v1/workspaces', {
      key: org.adminKey,
      body: '{"name": "half',
    })
    expect(res.status).toBe(400)
    expect(res.body).toEqual({
      error: {
        type: 'invalid_request',
        message: expect.stringContaining('JSON'),
        param: null,
        request_id: res.headers.get('x-request-id'),
      },
    })
    expect(await workspaceNames()).toEqual(before)
  })

  it('refuses bodies over 1 MiB with 413 and writes nothing', async () => {
    const before = await workspaceNames()
    const body = JSON.stringify({ name: 'big', description: 'x'.repeat(1024 * 1024) })
    const res = await h.call('POST', '/v1/workspaces', { key: org.adminKey, body })
    expect(res.status).toBe(413)
    expect(res.body.error.type).toBe('payload_too_large')
    expect(await workspaceNames()).toEqual(before)
  })

  it('accepts a body just under the limit (then validates it)', async () => {
    const body = JSON.stringify({ name: 'near limit', description: 'x'.repeat(1024 * 1024 - 100) })
    const res = await h.call('POST', '/v1/workspaces', { key: org.adminKey, body })
    // Not a 413: the body limit let it through; the description length rule refuses it.
    expect(res.status).toBe(400)
    expect(res.body.error.param).toBe('description')
  })

  it('names the offending field of an invalid body', async () => {
    const res = await h.call('POST', '/v1/workspaces', { key: org.adminKey, body: { name: 42 } })
    expect(res.status).toBe(400)
    expect(res.body.error.type).toBe('invalid_request')
    expect(res.body.error.param).toBe('name')
  })

  it('rejects unknown fields rather than ignoring them', async () => {
    const res = await h.call('POST', '/v1/workspaces', {
      key: org.adminKey,
      body: { name: 'ok', colour: 'blue' },
    })
    expect(res.status).toBe(400)
  })

  it('answers unknown routes with 404 in the error shape', async () => {
    const res = await h.call('GET', '/v1/nothing-here', { key: org.adminKey })
    expect(res.status).toBe(404)
    expect(res.body.error.type).toBe('not_found')
  })

  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const res = await h.call('GET', '/openapi.json')
    expect(res.status).toBe(200)
    expect(res.body.openapi).toBe('3.1.0')
    const paths = Object.keys(res.body.paths)
    for (const path of [
      '/v1/organizations',
      '/v1/organizations/{id}',
      '/v1/service-keys',
      '/v1/organization',
      '/v1/workspaces',
      '/v1/workspaces/{id}/archive',
      '/v1/admin-keys',
      '/v1/roles',
      '/v1/audit-events',
      '/health',
    ]) {
      expect(paths).toContain(path)
    }
    const create = res.body.paths['/v1/workspaces'].post
    expect(create.requestBody.content['application/json'].schema).toBeDefined()
    expect(Object.keys(create.responses)).toEqual(
      expect.arrayContaining(['201', '400', '401', '403'])
    )
    expect(res.body.components.schemas.Error).toBeDefined()
    // Every /v1 route except the invite acceptance (its token is the credential) needs a bearer.
    for (const [path, operations] of Object.entries(res.body.paths)) {
      if (!path.startsWith('/v1/') || path === '/v1/invites/accept') continue
      for (const operation of Object.values(operations as Record<string, { security?: unknown }>)) {
        expect(operation.security, path).toEqual([{ bearer: [] }])
      }
    }
  })

  it('serves interactive docs at /docs', async () => {
    const res = await h.call('GET', '/docs')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
    // The self-only CSP allows no inline script: the document's URL is in the page's init script.
    expect(res.text).toContain('docs/assets/init.js')
    const init = await h.call('GET', '/docs/assets/init.js')
    expect(init.status).toBe(200)
    expect(init.text).toContain('openapi.json')
  })
})

describe('pagination', () => {
  it('walks a list with limit and after, without repeats or gaps', async () => {
    const other = await createOrg(h, 'Pager')
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g']
    for (const name of names) {
      await h.call('POST', '/v1/workspaces', { key: other.adminKey, body: { name } })
    }
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const query = `limit=3${cursor ? `&after=${cursor}` : ''}`
      const res = await h.call('GET', `/v1/workspaces?${query}`, { key: other.adminKey })
      expect(res.status).toBe(200)
      expect(res.body.object).toBe('list')
      expect(res.body.data.length).toBeLessThanOrEqual(3)
      seen.push(...res.body.data.map((w: { name: string }) => w.name))
      expect(res.body.has_more).toBe(res.body.next_cursor !== null)
      cursor = res.body.next_cursor
      pages++
    } while (cursor)
    expect(seen).toEqual(['Default', ...names])
    expect(pages).toBe(3)
  })

  it('refuses limits outside 1..100', async () => {
    for (const limit of ['0', '101', 'x']) {
      const res = await h.call('GET', `/v1/workspaces?limit=${limit}`, { key: org.adminKey })
      expect(res.status).toBe(400)
      expect(res.body.error.param).toBe('limit')
    }
  })

  it('refuses a cursor that was not issued for this list', async () => {
    const other = await createOrg(h, 'Cursor owner')
    await h.call('POST', '/v1/workspaces', { key: other.adminKey, body: { name: 'x' } })
    const page = await h.call('GET', '/v1/workspaces?limit=1', { key: other.adminKey })
    const foreignCursor = page.body.next_cursor
    expect(foreignCursor).toEqual(expect.any(String))
    // Another organization replaying the cursor gets a 400, not the other org's data.
    const replay = await h.call('GET', `/v1/workspaces?after=${foreignCursor}`, {
      key: org.adminKey,
    })
    expect(replay.status).toBe(400)
    expect(replay.body.error.param).toBe('after')
    const garbage = await h.call('GET', '/v1/workspaces?after=bm90LWEtY3Vyc29y', {
      key: org.adminKey,
    })
    expect(garbage.status).toBe(400)
  })
})
