import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from './helpers/harness.js'

/** Issue 13 item 6: /docs is served from the app's own swagger-ui-dist, never from a CDN. */
let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(() => h.close())

const swaggerUiDist = (file: string) =>
  readFileSync(createRequire(import.meta.url).resolve(`swagger-ui-dist/${file}`))

describe('GET /docs', () => {
  it('is a page that loads only this origin’s assets, under a self-only CSP', async () => {
    const res = await h.call('GET', '/docs')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const csp = res.headers.get('content-security-policy')!
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/)
    // No absolute URL anywhere: nothing leaves the origin (a CDN would need one).
    expect(res.text).not.toMatch(/https?:\/\//)
    const loaded = [...res.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])
    expect(loaded).toEqual([
      'docs/assets/swagger-ui.css',
      'docs/assets/swagger-ui-bundle.js',
      'docs/assets/init.js',
    ])
    // No inline script: the CSP allows none.
    expect(res.text).not.toMatch(/<script>[^<]/)
  })

  it('serves the installed swagger-ui-dist files byte for byte', async () => {
    for (const [file, type] of [
      ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
      ['swagger-ui.css', 'text/css; charset=utf-8'],
    ] as const) {
      const res = await h.app.request(`/docs/assets/${file}`)
      expect(res.status, file).toBe(200)
      expect(res.headers.get('content-type'), file).toBe(type)
      expect(res.headers.get('content-security-policy'), file).toContain("default-src 'none'")
      expect(Buffer.from(await res.arrayBuffer()).equals(swaggerUiDist(file)), file).toBe(true)
    }
    const init = await h.call('GET', '/docs/assets/init.js')
    expect(init.text).toContain("new URL('openapi.json', document.baseURI)")
    expect(init.text).toContain('validatorUrl: null')
  })

  it('answers other asset names, and unknown query parameters, with the error shape', async () => {
    for (const path of [
      '/docs/assets/index.html',
      '/docs/assets/package.json',
      '/docs/assets/..%2Fpackage.json',
      '/docs/assets/constructor',
    ]) {
      const res = await h.call('GET', path)
      expect(res.status, path).toBe(400)
      expect(res.body.error, path).toMatchObject({ type: 'invalid_request', param: 'file' })
    }
    const res = await h.call('GET', '/docs?url=https://evil.example/spec.json')
    expect(res.status).toBe(400)
    expect(res.body.error).toMatchObject({ type: 'invalid_request', param: 'url' })
  })

  it('is declared in the OpenAPI document', async () => {
    const spec = (await h.call('GET', '/openapi.json')).body
    expect(Object.keys(spec.paths['/docs'].get.responses[200].content)).toEqual(['text/html'])
    expect(spec.paths['/docs/assets/{file}'].get.parameters[0].schema.enum).toEqual([
      'init.js',
      'swagger-ui.css',
      'swagger-ui-bundle.js',
    ])
  })
})
