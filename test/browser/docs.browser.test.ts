import { mkdirSync, statSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serveApi } from '../../functions/entry/node-server.js'
import { type Harness, startHarness } from '../helpers/harness.js'
import { chromiumPath } from './chromium.js'

/**
 * Issue 13 item 6: `/docs` renders in headless Chromium with the network cut off — every
 * request that is not to the local server is aborted and recorded, and none may be attempted.
 */
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts')

let h: Harness
let server: Server
let origin: string
let browser: Browser

beforeAll(async () => {
  h = await startHarness()
  server = await new Promise<Server>((resolve) => {
    const listening: Server = serveApi(h.app.fetch, { port: 0, hostname: '127.0.0.1' }, () =>
      resolve(listening)
    )
  })
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
})
afterAll(async () => {
  await browser?.close()
  await new Promise((resolve) => server?.close(resolve))
  await h?.close()
})

describe('/docs in a browser without network', () => {
  it('renders every operation of the OpenAPI document from local assets only', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const offline: string[] = []
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url())
      if (url.origin === origin) return route.continue()
      offline.push(url.href)
      return route.abort('internetdisconnected')
    })
    const page = await context.newPage()
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    page.on('console', (message) => {
      // CSP violations and failed scripts are reported on the console.
      if (message.type() === 'error') problems.push(`console: ${message.text()}`)
    })
    const failed: string[] = []
    page.on('response', (response) => {
      if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`)
    })

    const response = await page.goto(`${origin}/docs`, { waitUntil: 'load' })
    expect(response?.status()).toBe(200)
    // Swagger UI has fetched /openapi.json and rendered its operations.
    await page.locator('.opblock').first().waitFor({ timeout: 20_000 })
    const spec = (await h.call('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, unknown>>
    }
    const operations = Object.values(spec.paths).flatMap((item) =>
      Object.keys(item).filter((method) =>
        ['get', 'put', 'post', 'delete', 'patch'].includes(method)
      )
    ).length
    await expect.poll(() => page.locator('.opblock').count()).toBe(operations)
    await expect(
      page.locator('.opblock-summary-path[data-path="/v1/costs"]').count()
    ).resolves.toBe(1)
    expect(await page.locator('.info .title').textContent()).toContain('Admin engine API')

    mkdirSync(ARTIFACTS, { recursive: true })
    const screenshot = join(ARTIFACTS, 'docs.png')
    await page.screenshot({ path: screenshot })
    expect(statSync(screenshot).size).toBeGreaterThan(10_000)

    expect(offline).toEqual([])
    expect(failed).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  })
})
