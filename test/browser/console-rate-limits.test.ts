import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Locator, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumPath } from './chromium.js'
import { type LocalServer, startLocalServer } from './local-server.js'

/**
 * Rate limits on the console's Budgets & limits page, in headless Chromium against `npm start`
 * on a fresh store: what the page saves is what the API then reports, a value the server
 * refuses is shown at its field and changes nothing, and a key that may not change the limits
 * gets no control to change them.
 */

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** The browser globals the in-page functions use (this project is type-checked without DOM). */
interface DomElement {
  id: string
  textContent: string | null
  querySelector(selector: string): DomElement | null
  querySelectorAll(selector: string): ArrayLike<DomElement> & Iterable<DomElement>
}
declare const document: DomElement & { activeElement: DomElement | null }

let server: LocalServer
let browser: Browser
const pageProblems: string[] = []
const failedResponses: string[] = []
let researchId: string

async function api(method: string, path: string, key: string, body?: unknown) {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : undefined }
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  server = await startLocalServer()
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
  const created = await api('POST', '/v1/workspaces', server.demoAdminKey, { name: 'Research' })
  expect(created.status).toBe(201)
  researchId = created.body.id
})

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

async function signedIn(
  key: string,
  readsRateLimits = true,
  prepare?: (page: Page) => Promise<void>
): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    baseURL: server.baseUrl,
  })
  const page = await context.newPage()
  await prepare?.(page)
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      pageProblems.push(message.text())
    }
  })
  page.on('pageerror', (error) => pageProblems.push(error.message))
  page.on('response', (response) => {
    if (response.status() >= 400) {
      const url = new URL(response.url())
      failedResponses.push(`${response.request().method()} ${url.pathname} → ${response.status()}`)
    }
  })
  await page.goto('/console')
  await page.getByLabel('Admin key').fill(key)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('button', { name: 'Sign out' }).waitFor()
  await page.goto('/console#/budgets')
  await page.getByRole('heading', { level: 1, name: 'Budgets & limits' }).waitFor()
  if (readsRateLimits) await page.getByRole('heading', { level: 2, name: 'Rate limits' }).waitFor()
  return page
}

async function accessibilityProblems(page: Page): Promise<string[]> {
  // Evaluated over the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(AXE)
  const violations = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is injected above
    const result = await (globalThis as any).axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    })
    return result.violations.map(
      (v: { id: string; impact: string; nodes: { target: string[] }[] }) => ({
        id: v.id,
        impact: v.impact,
        targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 3),
      })
    ) as { id: string; impact: string; targets: string[] }[]
  })
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.targets.join(', ')}`)
}

async function checkPage(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}console-${name}.png`, fullPage: true })
  expect(await accessibilityProblems(page), `axe on ${name}`).toEqual([])
}

async function tableRows(table: Locator): Promise<string[][]> {
  return table.evaluate((node) =>
    [...(node as unknown as DomElement).querySelectorAll('tbody tr')].map((row) =>
      [...row.querySelectorAll('td')].map((cell) => (cell.textContent ?? '').trim())
    )
  )
}

const LABELS: Record<string, string> = {
  requests_per_minute: 'Requests per minute',
  tokens_per_minute: 'Tokens per minute',
  tokens_per_month: 'Tokens per month',
}
function micros(amount: string): bigint {
  const [whole, fraction = ''] = amount.split('.')
  return BigInt(whole!) * 1_000_000n + BigInt(fraction.padEnd(6, '0'))
}
/** Two decimals, half away from zero, as the console shows money. */
function money(amount: string): string {
  const cents = (micros(amount) + 5_000n) / 10_000n
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`
}
const figure = (n: number | null) => (n === null ? '—' : n.toLocaleString('en-US'))

describe('rate limits on the Budgets & limits page', () => {
  let page: Page

  it('sets an organization default and a workspace override; the page shows what the API has in force', async () => {
    page = await signedIn(server.demoAdminKey)
    const org = page.getByRole('form', { name: 'Organization rate limits' })
    await org.getByRole('button', { name: 'Add a model entry' }).click()
    const orgEntry = org.getByRole('group', { name: 'Model entry 1' })
    expect(await orgEntry.getByLabel('Model').inputValue()).toBe('*')
    await orgEntry.getByLabel('Requests per minute').fill('600')
    await orgEntry.getByLabel('Tokens per minute').fill('200000')
    await org.getByRole('button', { name: 'Save organization rate limits' }).click()
    await org.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()

    const research = page.getByRole('form', { name: 'Research workspace rate limits' })
    await research.getByRole('button', { name: 'Add a model entry' }).click()
    const wsEntry = research.getByRole('group', { name: 'Model entry 1' })
    await wsEntry.getByLabel('Requests per minute').fill('100')
    await research.getByRole('button', { name: 'Add a model entry' }).click()
    const opus = research.getByRole('group', { name: 'Model entry 2' })
    await opus.getByLabel('Model').fill('claude-opus')
    await opus.getByLabel('Tokens per month').fill('5000000')
    await research.getByRole('button', { name: 'Save research workspace rate limits' }).click()
    await research.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()

    const orgLimits = await api('GET', '/v1/rate-limits', server.demoAdminKey)
    expect(orgLimits.body.limits).toEqual([
      { model: '*', requests_per_minute: 600, tokens_per_minute: 200000, tokens_per_month: null },
    ])
    const inherited = await api(
      'GET',
      `/v1/workspaces/${researchId}/rate-limits?include_inherited=true`,
      server.demoAdminKey
    )
    expect(inherited.body.limits).toEqual([
      { model: '*', requests_per_minute: 100, tokens_per_minute: null, tokens_per_month: null },
      {
        model: 'claude-opus',
        requests_per_minute: null,
        tokens_per_minute: null,
        tokens_per_month: 5000000,
      },
    ])
    // Both sources are in force: the workspace's own value and the organization's.
    const sources = new Set(inherited.body.effective.map((e: { source: string }) => e.source))
    expect(sources).toEqual(new Set(['workspace', 'organization']))
    const table = page.getByRole('table', { name: 'In force in workspace Research' })
    await table.getByRole('cell', { name: '5,000,000' }).waitFor()
    expect((await tableRows(table)).sort()).toEqual(
      inherited.body.effective
        .map(
          (e: {
            model: string
            limit_type: string
            value: number
            source: string
            organization_value: number | null
          }) => [
            e.model,
            LABELS[e.limit_type],
            figure(e.value),
            e.source,
            figure(e.organization_value),
          ]
        )
        .sort()
    )
    // The saved values are what the forms now hold.
    expect(
      await research
        .getByRole('group', { name: 'Model entry 1' })
        .getByLabel('Requests per minute')
        .inputValue()
    ).toBe('100')
  })

  it('shows live spend beside spend, as GET /v1/budgets reports them', async () => {
    // Usage ingested and not aggregated yet: in live spend, not yet in spend.
    const service = await api('POST', '/v1/service-keys', server.operatorKey, { name: 'chat' })
    const ingested = await api('POST', '/v1/usage/events', service.body.secret, {
      events: [
        {
          id: 'live-1',
          organization_id: server.demoOrganizationId,
          workspace_id: researchId,
          timestamp: new Date(Date.now() - 60_000).toISOString(),
          product: 'chat',
          model: 'claude-opus-4',
          input_tokens: 98_765,
          output_tokens: 4_321,
          requests: 1,
        },
      ],
    })
    expect(ingested.body).toMatchObject({ accepted: 1, rejected: [] })
    const budgets = await api('GET', '/v1/budgets', server.demoAdminKey)
    await page.reload()
    await page.getByRole('heading', { level: 2, name: 'Rate limits' }).waitFor()
    for (const [scope, workspaceId] of [
      ['org', null],
      [researchId, researchId],
    ] as const) {
      const budget = budgets.body.data.find(
        (b: { workspace_id: string | null }) => b.workspace_id === workspaceId
      )
      expect(micros(budget.live_spend)).toBeGreaterThan(micros(budget.spend))
      const text = (await page.getByTestId(`spend-${scope}`).textContent())!.replaceAll(',', '')
      expect(text).toContain(`Spend this month: ${money(budget.spend)} ${budget.currency}`)
      expect(text).toContain(`live spend ${money(budget.live_spend)} ${budget.currency}`)
    }
  })

  it('shows the server’s 400 at the field for a workspace value above the organization’s, and changes nothing', async () => {
    const before = await api('GET', `/v1/workspaces/${researchId}/rate-limits`, server.demoAdminKey)
    const research = page.getByRole('form', { name: 'Research workspace rate limits' })
    const field = research
      .getByRole('group', { name: 'Model entry 1' })
      .getByLabel('Requests per minute')
    // With the keyboard alone: type into the field and submit with Enter.
    await field.focus()
    await page.keyboard.press('Control+A')
    await page.keyboard.type('700')
    await page.keyboard.press('Enter')
    const error = research.getByRole('alert')
    await error.waitFor()
    expect(await error.textContent()).toMatch(
      /^400 invalid_request: The workspace's requests_per_minute 700 for '\*' is above the organization's 600/
    )
    expect(await field.getAttribute('aria-invalid')).toBe('true')
    expect(await field.getAttribute('aria-describedby')).toBe(await error.getAttribute('id'))
    // The focus is on the field to fix.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe(
      await field.getAttribute('id')
    )
    expect(await field.inputValue()).toBe('700')
    const after = await api('GET', `/v1/workspaces/${researchId}/rate-limits`, server.demoAdminKey)
    expect(after.body).toEqual(before.body)
    await checkPage(page, 'budgets-rate-limits')
  })

  it('a member key (no update_rate_limits) sees no rate-limit control, and the server refuses it a change', async () => {
    const key = await api('POST', '/v1/admin-keys', server.demoAdminKey, {
      name: 'limits reader',
      org_roles: ['member'],
    })
    const me = await api('GET', '/v1/me', key.body.secret)
    expect(me.body.allowed_actions).not.toContain('update_rate_limits')
    const member = await signedIn(key.body.secret, false)
    const menu = member.getByRole('navigation', { name: 'Pages' }).getByRole('link')
    expect(await menu.allTextContents()).not.toContain('Budgets & limits')
    // Opened by its address anyway: the page says what was refused, and offers no control.
    await member.getByRole('alert').first().waitFor()
    expect(await member.getByRole('heading', { name: 'Rate limits' }).count()).toBe(0)
    expect(await member.getByRole('button', { name: /rate limits|model entry/i }).count()).toBe(0)
    expect(await member.getByRole('textbox').count()).toBe(0)
    const refused = await api('PUT', '/v1/rate-limits', key.body.secret, { limits: [] })
    expect(refused.status).toBe(403)
    expect((await api('GET', '/v1/rate-limits', server.demoAdminKey)).body.limits).toHaveLength(1)
    await member.context().close()
  })

  it('a session allowed read_rate_limits but not update_rate_limits sees the limits as tables only', async () => {
    // No built-in role reads rate limits without changing them, and custom policies govern
    // product actions only, so the session is narrowed in the browser: the real /v1/me answer
    // of the admin key, without update_rate_limits.
    const reader = await signedIn(server.demoAdminKey, true, async (page) => {
      await page.route('**/v1/me', async (route) => {
        const response = await route.fetch()
        const session = await response.json()
        session.allowed_actions = session.allowed_actions.filter(
          (action: string) => action !== 'update_rate_limits'
        )
        await route.fulfill({ response, json: session })
      })
    })
    const section = reader.getByRole('region', { name: 'Rate limits', exact: true })
    const own = section.getByRole('table', { name: 'Research workspace rate limits' })
    await own.getByRole('cell', { name: 'claude-opus' }).waitFor()
    expect(await tableRows(own)).toEqual([
      ['*', '100', '—', '—'],
      ['claude-opus', '—', '—', '5,000,000'],
    ])
    expect(
      await tableRows(section.getByRole('table', { name: 'Organization rate limits' }))
    ).toEqual([['*', '600', '200,000', '—']])
    expect(await section.getByRole('textbox').count()).toBe(0)
    expect(await section.getByRole('button').count()).toBe(0)
    expect(await section.getByRole('form').count()).toBe(0)
    await checkPage(reader, 'budgets-rate-limits-read-only')
    await reader.context().close()
  })

  it('ran under its CSP without an uncaught error; no call failed but the refused ones', () => {
    expect(pageProblems).toEqual([])
    expect(failedResponses.filter((line) => !line.endsWith('→ 403'))).toEqual([
      `PUT /v1/workspaces/${researchId}/rate-limits → 400`,
    ])
    // The member's page asked for the spend figures a member may not read (refused, and
    // shown as such); it never asked for rate limits.
    const forbidden = failedResponses.filter((line) => line.endsWith('→ 403'))
    expect(forbidden).toContain('GET /v1/budgets → 403')
    for (const line of forbidden)
      expect(line).toMatch(/^GET \/v1\/(budgets|spend-limit|workspaces\/ws_\w+\/spend-limit) /)
  })
})
