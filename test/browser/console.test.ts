import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { parse } from 'csv-parse/sync'
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
} from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalServer, startLocalServer } from './local-server.js'

/**
 * The console in a real browser (Debian's Chromium, headless) against `npm start` on a fresh
 * store: every figure the page shows is checked against the API, every page is screenshotted
 * (test-artifacts/) and checked with axe-core, and the page must run under its CSP.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** The browser globals the in-page functions use (this project is type-checked without DOM). */
interface DomElement {
  id: string
  textContent: string | null
  querySelector(selector: string): DomElement | null
  querySelectorAll(selector: string): ArrayLike<DomElement> & Iterable<DomElement>
}
declare const document: DomElement & {
  cookie: string
  activeElement: DomElement | null
  documentElement: { scrollWidth: number }
}
declare const location: { href: string; hash: string }
declare const sessionStorage: Record<string, string>
declare const localStorage: Record<string, string>

let server: LocalServer
let browser: Browser
/** Anything the browser reported against the page's CSP or as an uncaught error. */
const pageProblems: string[] = []
/** Every error response the pages received. */
const failedResponses: string[] = []

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  server = await startLocalServer()
  browser = await chromium.launch({
    executablePath: CHROMIUM,
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
  await server?.stop()
})

async function newPage(
  width = 1280,
  height = 800
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width, height },
    acceptDownloads: true,
    baseURL: server.baseUrl,
  })
  const page = await context.newPage()
  page.on('console', (message) => {
    // Failed responses are reported below with their URL; anything else (a CSP refusal) here.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      pageProblems.push(message.text())
    }
  })
  page.on('response', (response) => {
    if (response.status() >= 400) {
      failedResponses.push(
        `${response.request().method()} ${new URL(response.url()).pathname}${new URL(response.url()).search} → ${response.status()}`
      )
    }
  })
  page.on('pageerror', (error) => pageProblems.push(error.message))
  return { context, page }
}

/** The API as the test's own client (operator, service and admin keys). */
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

/** Exact sum of decimal amounts (up to 6 decimals), as the API writes them. */
function sumMicros(amounts: string[]): bigint {
  return amounts.reduce((total, amount) => {
    const [whole, fraction = ''] = amount.split('.')
    return total + BigInt(whole!) * 1_000_000n + BigInt(fraction.padEnd(6, '0'))
  }, 0n)
}
function micros(amount: string): bigint {
  return sumMicros([amount])
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto('/console')
  await page.getByLabel('Admin key').fill(key)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('button', { name: 'Sign out' }).waitFor()
}

async function go(page: Page, route: string, title: string): Promise<void> {
  await page.goto(`/console#/${route}`)
  await page.getByRole('heading', { level: 1, name: title }).waitFor()
}

async function readTable(table: Locator) {
  return table.evaluate((node) => {
    const element = node as unknown as DomElement
    const cells = (row: DomElement) =>
      [...row.querySelectorAll('th, td')].map((cell) => (cell.textContent ?? '').trim())
    return {
      header: cells(element.querySelector('thead tr')!),
      rows: [...element.querySelectorAll('tbody tr')].map(cells),
      footer: [...element.querySelectorAll('tfoot tr')].map(cells),
    }
  })
}

/** axe-core in the page: serious and critical violations, described for a failure message. */
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

describe('the console, signed in as organization_admin', () => {
  let page: Page
  let researchId: string
  let billingKey: string

  beforeAll(async () => {
    ;({ page } = await newPage())
  })

  it('signs in with the printed admin key, kept in session storage only', async () => {
    await page.goto('/console')
    await checkPage(page, 'sign-in')
    await signIn(page, server.demoAdminKey)
    expect(await page.locator('header').textContent()).toContain('Demo organization')
    const stored = await page.evaluate(() => ({
      session: Object.values(sessionStorage),
      local: Object.keys(localStorage).length,
      cookies: document.cookie,
      url: location.href,
    }))
    expect(stored.session).toEqual([server.demoAdminKey])
    expect(stored.local).toBe(0)
    expect(stored.cookies).toBe('')
    expect(stored.url).not.toContain(server.demoAdminKey)
  })

  it('creates a workspace and a member, and grants the member a role there', async () => {
    await go(page, 'admin/workspaces', 'Workspaces')
    await page.getByLabel('Workspace name').fill('Research')
    await page.getByRole('button', { name: 'Create workspace' }).click()
    await page.getByRole('cell', { name: 'Research', exact: true }).waitFor()
    const workspaces = await api('GET', '/v1/workspaces', server.demoAdminKey)
    researchId = workspaces.body.data.find((w: { name: string }) => w.name === 'Research').id
    await checkPage(page, 'workspaces')

    await go(page, 'admin/members', 'Members')
    await page.getByLabel('Email', { exact: true }).fill('alice@example.com')
    await page.getByLabel('Name', { exact: true }).fill('Alice')
    await page.getByRole('button', { name: 'Add member' }).click()
    await page.getByRole('cell', { name: 'alice@example.com', exact: true }).waitFor()
    await checkPage(page, 'members')

    await go(page, 'admin/access', 'Workspace access')
    await page.getByRole('combobox', { name: /^Workspace/ }).selectOption({ label: 'Research' })
    await page.getByRole('heading', { name: 'Grants in Research' }).waitFor()
    await page.getByLabel('Member or group').selectOption({ label: 'alice@example.com' })
    await page.getByRole('checkbox', { name: 'user', exact: true }).check()
    await page.getByRole('button', { name: 'Grant in Research' }).click()
    const grantRow = page
      .getByTestId('grants-table')
      .getByRole('row', { name: /alice@example.com/ })
    await grantRow.waitFor()
    expect(await grantRow.textContent()).toContain('user')
    // The server holds what the page shows.
    const grants = await api('GET', `/v1/workspaces/${researchId}/access`, server.demoAdminKey)
    expect(grants.body.data).toEqual([
      expect.objectContaining({
        roles: ['user'],
        principal: expect.objectContaining({ type: 'member' }),
      }),
    ])
    await checkPage(page, 'access')

    // Effective access names where the role comes from.
    await go(page, 'admin/members', 'Members')
    await page.getByRole('button', { name: 'Access of alice@example.com' }).click()
    const access = page.getByTestId('effective-access')
    await access.getByRole('cell', { name: 'Research' }).waitFor()
    expect(await access.textContent()).toContain('direct grant')
  })

  it('shows usage after ingestion and aggregation with the same totals as GET /v1/costs', async () => {
    const service = await api('POST', '/v1/service-keys', server.operatorKey, { name: 'chat' })
    expect(service.status).toBe(201)
    const org = await api('GET', '/v1/organization', server.demoAdminKey)
    const defaultId = org.body.default_workspace_id
    const at = new Date(Date.now() - 60_000).toISOString()
    const event = (
      id: string,
      workspace_id: string,
      model: string,
      input: number,
      output: number
    ) => ({
      id,
      organization_id: server.demoOrganizationId,
      workspace_id,
      timestamp: at,
      product: 'chat',
      model,
      input_tokens: input,
      output_tokens: output,
      requests: 1,
    })
    const ingested = await api('POST', '/v1/usage/events', service.body.secret, {
      events: [
        event('e1', defaultId, 'claude-sonnet-4', 123_457, 45_679),
        event('e2', researchId, 'claude-opus-4', 98_765, 4_321),
        event('e3', researchId, 'claude-haiku-4', 1_001, 333),
      ],
    })
    expect(ingested.body).toMatchObject({ accepted: 3, rejected: [] })
    const run = await api('POST', '/v1/jobs/aggregate', server.operatorKey)
    expect(run.status).toBe(200)
    expect(run.body.events_aggregated).toBe(3)

    const monthStart = `${at.slice(0, 8)}01T00:00:00Z`
    const costs = await api(
      'GET',
      `/v1/costs?starting_at=${monthStart}&bucket_width=1d&group_by=workspace_id&limit=31`,
      server.demoAdminKey
    )
    expect(costs.status).toBe(200)
    const apiRows = costs.body.data.flatMap(
      (bucket: { starting_at: string; results: { workspace_id: string; cost: string }[] }) =>
        bucket.results.map((r) => ({
          bucket: bucket.starting_at,
          workspace: r.workspace_id,
          cost: r.cost,
        }))
    ) as { bucket: string; workspace: string; cost: string }[]
    const apiTotal = sumMicros(apiRows.map((row) => row.cost))
    expect(apiTotal).toBeGreaterThan(0n)

    await go(page, 'usage', 'Usage & costs')
    const table = page.getByTestId('usage-table')
    await table.waitFor()
    const shown = await readTable(table)
    const workspaces = await api('GET', '/v1/workspaces', server.demoAdminKey)
    const names = new Map<string, string>(
      workspaces.body.data.map((w: { id: string; name: string }) => [w.id, w.name])
    )
    // Row for row and to the last digit, what GET /v1/costs says.
    expect(
      shown.rows.map(([bucket, group, cost]) => ({ bucket, group, cost })).sort(byKey)
    ).toEqual(
      apiRows
        .map((row) => ({ bucket: row.bucket, group: names.get(row.workspace), cost: row.cost }))
        .sort(byKey)
    )
    expect(micros(shown.footer[0]![2]!)).toBe(apiTotal)
    // The chart plots the same figures: its drawn total agrees to the cent.
    const chart = page.getByTestId('usage-chart')
    expect(await chart.locator('canvas').count()).toBeGreaterThan(0)
    const plotted = await chart.getAttribute('data-plotted-total')
    expect(plotted).toBe((Number(apiTotal) / 1e6).toFixed(2))
    await checkPage(page, 'usage')

    // The CSV downloaded from the page is exactly the table.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ])
    const csv = readFileSync((await download.path())!, 'utf8')
    const records = parse(csv) as string[][]
    expect(records).toEqual([shown.header, ...shown.rows, shown.footer[0]!])
  })

  it('shows the month against the limit per workspace on the overview', async () => {
    await api('PUT', '/v1/spend-limit', server.demoAdminKey, {
      monthly_limit: '1000.00',
      alert_thresholds_percent: [50, 80, 100],
      enforcement: 'soft',
    })
    await go(page, 'overview', 'Overview')
    const budgets = await api('GET', '/v1/budgets', server.demoAdminKey)
    const orgBudget = budgets.body.data.find((b: { scope: string }) => b.scope === 'organization')
    await page.getByTestId('org-spend').waitFor()
    const spend = (await page.getByTestId('org-spend').textContent())!
    expect(spend.replaceAll(',', '')).toBe(
      `${(Number(micros(orgBudget.spend)) / 1e6).toFixed(2)} ${orgBudget.currency}`
    )
    // Live spend (ingested usage not aggregated yet included) beside it, as GET /v1/budgets says.
    const live = (await page.getByTestId('org-live-spend').textContent())!
    expect(live.replaceAll(',', '')).toBe(
      `${(Number(micros(orgBudget.live_spend)) / 1e6).toFixed(2)} ${orgBudget.currency}`
    )
    expect(await page.getByTestId('as-of').textContent()).toContain(
      budgets.body.as_of.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
    )
    expect(
      await page
        .getByRole('table', { name: /per workspace/ })
        .getByRole('row')
        .count()
    ).toBe(1 + budgets.body.data.filter((b: { scope: string }) => b.scope === 'workspace').length)
    await checkPage(page, 'overview')
  })

  it('edits a spend limit on the budgets page', async () => {
    await go(page, 'budgets', 'Budgets & limits')
    const form = page.getByRole('form', { name: 'Workspace Research' })
    await form.getByLabel(/Monthly limit/).fill('250.00')
    await form.getByLabel('Enforcement').selectOption('hard')
    await form.getByRole('button', { name: /Save/ }).click()
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()
    const limit = await api('GET', `/v1/workspaces/${researchId}/spend-limit`, server.demoAdminKey)
    expect(limit.body).toMatchObject({ monthly_limit: '250.000000', enforcement: 'hard' })
    await checkPage(page, 'budgets')
  })

  it('shows Cedar errors at their line and column', async () => {
    await go(page, 'admin/policies', 'Policies')
    await page.getByRole('button', { name: 'New custom policy' }).click()
    await page
      .getByLabel('Cedar')
      .fill('permit (principal, action, resource)\nwhen { resource.nope };')
    await page.getByRole('button', { name: 'Validate' }).click()
    const diagnostics = page.getByTestId('diagnostics')
    await diagnostics.waitFor()
    expect(await diagnostics.textContent()).toMatch(/line 2, column \d+/)
    await checkPage(page, 'policies')
  })

  it('creates an admin key and shows its secret once; the audit log lists the changes', async () => {
    await go(page, 'admin/admin-keys', 'Admin keys')
    await page.getByLabel('Admin key name').fill('finance')
    await page.getByRole('checkbox', { name: 'billing_manager' }).check()
    await page.getByRole('button', { name: 'Create admin key' }).click()
    billingKey = (await page.getByTestId('secret').textContent())!
    expect(billingKey).toMatch(/^adm_/)
    await checkPage(page, 'admin-keys')
    await page.getByRole('button', { name: 'Done' }).click()
    expect(await page.getByTestId('secret').count()).toBe(0)

    await go(page, 'admin/audit', 'Audit log')
    const audit = page.getByTestId('audit-table')
    await audit.getByRole('cell', { name: 'member.created' }).waitFor()
    await checkPage(page, 'audit')
    // Export CSV: the server's CSV of the same filter, one record per event the table lists.
    const shownEvents = await readTable(audit)
    const [exported] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ])
    const [header, ...events] = parse(readFileSync((await exported.path())!, 'utf8')) as string[][]
    const typeColumn = header!.indexOf('event_type')
    expect(typeColumn).toBeGreaterThanOrEqual(0)
    expect(events.map((event) => event[typeColumn])).toEqual(shownEvents.rows.map((row) => row[1]))
    for (const route of ['groups', 'seats', 'api-keys', 'scim-tokens']) {
      await page.goto(`/console#/admin/${route}`)
      await page.getByRole('heading', { level: 1 }).waitFor()
      await page.waitForLoadState('networkidle')
      await checkPage(page, route)
    }
  })

  it('is usable at phone width', async () => {
    const phone = await newPage(390, 844)
    await signIn(phone.page, server.demoAdminKey)
    await go(phone.page, 'usage', 'Usage & costs')
    await phone.page.getByTestId('usage-table').waitFor()
    // Nothing wider than the screen but the scrolling table.
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth)
    expect(overflow).toBeLessThanOrEqual(390)
    await checkPage(phone.page, 'phone-usage')
    await phone.context.close()
  })

  it('follows a route changed before its first effects ran, as right after signing in', async () => {
    // Effects run after paint; with the page's timers held, the Shell renders but has not yet
    // listened for hashchange when the URL changes. It must still show the route in the URL.
    const early = await newPage()
    await early.page.clock.install()
    await early.page.goto('/console')
    await early.page.getByLabel('Admin key').fill(server.demoAdminKey)
    await early.page.clock.pauseAt(Date.now() + 60_000)
    await early.page.getByRole('button', { name: 'Sign in' }).click()
    await early.page.getByRole('button', { name: 'Sign out' }).waitFor()
    await early.page.evaluate(() => {
      location.hash = '#/usage'
    })
    await early.page.clock.resume()
    await early.page.getByRole('heading', { level: 1, name: 'Usage & costs' }).waitFor()
    await early.context.close()
  })

  describe('as billing_manager', () => {
    let finance: Page

    it('signs in with the keyboard alone', async () => {
      ;({ page: finance } = await newPage())
      await finance.goto('/console')
      await finance.keyboard.press('Tab')
      await finance.keyboard.type(billingKey)
      await finance.keyboard.press('Enter')
      await finance.getByRole('button', { name: 'Sign out' }).waitFor()
      // Signed in, focus moves to the first page's heading (screen readers announce it); wait
      // for that, or a Tab pressed before the page mounts races it.
      await finance.waitForFunction(() => document.activeElement?.id === 'page-title')
      // The menu is reachable by keyboard: going back from the heading, the pages, then the
      // skip link, the first thing on the page.
      const passed: string[] = []
      for (let i = 0; i < 20 && passed.at(-1) !== 'Skip to content'; i++) {
        await finance.keyboard.press('Shift+Tab')
        passed.push(await finance.evaluate(() => document.activeElement?.textContent ?? ''))
      }
      expect(passed.at(-1)).toBe('Skip to content')
      expect(passed).toContain('Budgets & limits')
    })

    it('sees finance pages but no member-changing controls', async () => {
      await go(finance, 'budgets', 'Budgets & limits')
      await finance.getByRole('button', { name: 'Save organization limit' }).waitFor()
      await go(finance, 'admin/members', 'Members')
      await finance.getByRole('cell', { name: 'alice@example.com', exact: true }).waitFor()
      expect(await finance.getByRole('button', { name: 'Add member' }).count()).toBe(0)
      expect(await finance.getByRole('button', { name: /^Deactivate/ }).count()).toBe(0)
      expect(await finance.getByRole('combobox', { name: /Organization role of/ }).count()).toBe(0)
      await go(finance, 'admin/access', 'Workspace access')
      await finance.getByTestId('grants-table').waitFor()
      expect(await finance.getByRole('button', { name: /^Grant in/ }).count()).toBe(0)
      expect(await finance.getByRole('button', { name: /^Remove grant/ }).count()).toBe(0)
      await checkPage(finance, 'billing-members')
    })

    it('is refused by the server when it forces a member change', async () => {
      const forced = await finance.evaluate(async () => {
        const key = Object.values(sessionStorage)[0]
        const response = await fetch('/v1/members', {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'mallory@example.com', name: 'Mallory' }),
        })
        return {
          status: response.status,
          body: (await response.json()) as { error: { type: string } },
        }
      })
      expect(forced.status).toBe(403)
      expect(forced.body.error.type).toBe('permission')
      const members = await api('GET', '/v1/members?email=mallory@example.com', server.demoAdminKey)
      expect(members.body.data).toEqual([])
    })
  })

  it('a member key sees only the pages its roles may read; a revoked key signs the console out', async () => {
    const created = await api('POST', '/v1/admin-keys', server.demoAdminKey, {
      name: 'reader',
      org_roles: ['member'],
    })
    const reader = await newPage()
    await signIn(reader.page, created.body.secret)
    const menu = reader.page.getByRole('navigation', { name: 'Pages' }).getByRole('link')
    expect(await menu.allTextContents()).toEqual(['Workspaces'])
    // It opens on that page, which lists what GET /v1/workspaces returns.
    await reader.page.getByRole('heading', { level: 1, name: 'Workspaces' }).waitFor()
    await reader.page.getByRole('cell', { name: 'Research', exact: true }).waitFor()
    expect(await reader.page.getByRole('button', { name: 'Create workspace' }).count()).toBe(0)

    expect(
      (await api('DELETE', `/v1/admin-keys/${created.body.id}`, server.demoAdminKey)).status
    ).toBe(200)
    await reader.page.reload()
    await reader.page.getByRole('button', { name: 'Sign in' }).waitFor()
    expect(await reader.page.getByRole('alert').textContent()).toMatch(/401|sign in again/)
    expect(await reader.page.evaluate(() => Object.keys(sessionStorage).length)).toBe(0)
    await reader.context.close()
  })

  it('ran under its CSP without a violation or an uncaught error; no call failed but the forced one', () => {
    expect(pageProblems).toEqual([])
    // The invalid policy the policies test validates, the member change billing forced,
    // and the revoked key's first call.
    expect(failedResponses).toEqual([
      'POST /v1/policies/validate → 400',
      'POST /v1/members → 403',
      'GET /v1/me → 401',
    ])
  })
})

function byKey(a: { bucket?: string; group?: string }, b: { bucket?: string; group?: string }) {
  return `${a.bucket}|${a.group}`.localeCompare(`${b.bucket}|${b.group}`)
}
