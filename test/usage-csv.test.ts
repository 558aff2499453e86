import { parse } from 'csv-parse/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { aggregate, createServiceKey, sendEvents, usageEvent } from './helpers/usage.js'

/**
 * Contract v1.1 "Money and reports", issue 13 item 3: `format=csv` is the whole requested range
 * in one streamed response, workspace names beside ids, optional zero rows for empty buckets,
 * RFC 3339 UTC times, 6-decimal money with its currency — the same figures as JSON.
 */
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let research: string
let other: Awaited<ReturnType<typeof createOrg>>

const MONTH = 'starting_at=2026-11-01T00:00:00Z&ending_at=2026-12-01T00:00:00Z'
const DAY = 86_400_000
/** Days of November without any usage (empty buckets). */
const QUIET_DAYS = new Set([5, 12, 19, 26])
const RFC3339_UTC_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

beforeAll(async () => {
  h = await startHarness()
  h.clock.set('2026-12-02T10:00:00.000Z')
  const svc = await createServiceKey(h)
  org = await createOrg(h, 'Acme')
  // A comma and a quote in the name: the CSV must quote it, and a parser must get it back.
  research = (
    await h.call('POST', '/v1/workspaces', {
      key: org.adminKey,
      body: { name: 'Research, "Lab" 2' },
    })
  ).body.id
  other = await createOrg(h, 'Globex')
  // Odd token counts of cheap models: costs below a micro-unit per event add up exactly.
  let seed = 7
  const next = () => {
    seed = (seed * 48271) % 2147483647
    return seed
  }
  const events: Record<string, unknown>[] = []
  for (let day = 1; day <= 30; day++) {
    if (QUIET_DAYS.has(day)) continue
    for (let i = 0; i < 12; i++) {
      events.push(
        usageEvent({
          id: `e-${day}-${i}`,
          organization_id: org.id,
          workspace_id: i % 3 === 0 ? research : org.defaultWorkspaceId,
          timestamp: new Date(Date.UTC(2026, 10, day, i * 2, 17)).toISOString(),
          model: ['claude-haiku-3', 'claude-haiku-4', 'claude-sonnet-4'][i % 3]!,
          input_tokens: next() % 9_999,
          output_tokens: next() % 4_321,
          requests: 1 + (next() % 3),
        })
      )
    }
  }
  events.push(
    usageEvent({
      id: 'globex',
      organization_id: other.id,
      workspace_id: other.defaultWorkspaceId,
      timestamp: '2026-11-10T10:00:00Z',
      input_tokens: 5_000,
    })
  )
  for (let at = 0; at < events.length; at += 500) {
    const result = await sendEvents(h, svc, events.slice(at, at + 500))
    expect(result.rejected).toEqual([])
  }
  await aggregate(h)
})
afterAll(() => h.close())

const get = (path: string, key = org.adminKey) => h.call('GET', path, { key })

/** Every page of a JSON report, as "start|workspace|model" → the result. */
async function jsonRows(path: string): Promise<Map<string, Record<string, unknown>>> {
  const rows = new Map<string, Record<string, unknown>>()
  let page: string | null = null
  let pages = 0
  do {
    const res = await get(`${path}${page ? `&page=${encodeURIComponent(page)}` : ''}`)
    expect(res.status).toBe(200)
    for (const bucket of res.body.data) {
      for (const result of bucket.results) {
        rows.set(`${bucket.starting_at}|${result.workspace_id}|${result.model}`, result)
      }
    }
    page = res.body.next_page
    pages++
  } while (page)
  expect(pages).toBeGreaterThan(1) // the JSON side really is paged; the CSV must not be
  return rows
}

function readCsv(text: string): Record<string, string>[] {
  return parse(text, { columns: true, skip_empty_lines: true })
}

describe('GET /v1/costs and /v1/usage ?format=csv', () => {
  it('holds a whole month of daily costs, equal to the JSON figures to the micro-unit', async () => {
    const query = `${MONTH}&bucket_width=1d&group_by=workspace_id,model`
    const json = await jsonRows(`/v1/costs?${query}`)
    const res = await get(`/v1/costs?${query}&format=csv`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(res.headers.get('x-next-page')).toBeNull()
    expect(res.headers.get('x-as-of')).toEqual(expect.stringMatching(/^2026-12-02T/))
    expect(res.text.split('\r\n')[0]).toBe(
      'starting_at,ending_at,workspace_id,workspace_name,model,cost,currency'
    )
    const rows = readCsv(res.text)
    // 26 days with usage × (2 workspaces × models used there) — every one, not a first page.
    expect(new Set(rows.map((row) => row.starting_at)).size).toBe(30 - QUIET_DAYS.size)
    expect(rows).toHaveLength(json.size)
    for (const row of rows) {
      expect(row.starting_at).toMatch(RFC3339_UTC_SECONDS)
      expect(row.ending_at).toMatch(RFC3339_UTC_SECONDS)
      expect(Date.parse(row.ending_at!) - Date.parse(row.starting_at!)).toBe(DAY)
      const start = new Date(row.starting_at!).toISOString()
      const figures = json.get(`${start}|${row.workspace_id}|${row.model}`)
      expect(figures, `${start} ${row.workspace_id} ${row.model}`).toBeDefined()
      expect(row.cost).toBe(figures!.cost) // same 6-decimal string: equal to the micro-unit
      expect(row.cost).toMatch(/^\d+\.\d{6}$/)
      expect(row.currency).toBe('USD')
      expect(row.workspace_name).toBe(
        row.workspace_id === research ? 'Research, "Lab" 2' : 'Default'
      )
    }
    // The month's total in micro-units is the same summed from either side.
    const micros = (cost: string) => BigInt(cost.replace('.', ''))
    const csvTotal = rows.reduce((sum, row) => sum + micros(row.cost!), 0n)
    const jsonTotal = [...json.values()].reduce((sum, r) => sum + micros(r.cost as string), 0n)
    expect(csvTotal).toBe(jsonTotal)
    expect(csvTotal).toBeGreaterThan(0n)
    // Another organization's usage is not in it.
    expect(rows.some((row) => row.workspace_id === other.defaultWorkspaceId)).toBe(false)
  })

  it('has the usage figures of every hour of the month, streamed in several chunks', async () => {
    const query = `${MONTH}&bucket_width=1h&group_by=workspace_id,model`
    const json = await jsonRows(`/v1/usage?${query}&limit=168`)
    const response = await h.app.request(`/v1/usage?${query}&format=csv`, {
      headers: { authorization: `Bearer ${org.adminKey}` },
    })
    expect(response.status).toBe(200)
    // 720 hourly buckets are read a page (168 buckets) at a time and written out as they come.
    const reader = response.body!.getReader()
    const chunks: Uint8Array[] = []
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      chunks.push(read.value)
    }
    expect(chunks.length).toBeGreaterThanOrEqual(5)
    const rows = readCsv(Buffer.concat(chunks).toString('utf8'))
    expect(rows).toHaveLength(json.size)
    for (const row of rows) {
      const figures = json.get(
        `${new Date(row.starting_at!).toISOString()}|${row.workspace_id}|${row.model}`
      )!
      expect({
        input_tokens: Number(row.input_tokens),
        output_tokens: Number(row.output_tokens),
        requests: Number(row.requests),
        cost: row.cost,
      }).toEqual({
        input_tokens: figures.input_tokens,
        output_tokens: figures.output_tokens,
        requests: figures.requests,
        cost: figures.cost,
      })
    }
  })

  it('gives empty days a zero row with fill_empty=true, in CSV and JSON', async () => {
    const csv = readCsv((await get(`/v1/costs?${MONTH}&format=csv&fill_empty=true`)).text)
    expect(csv).toHaveLength(30)
    const quiet = csv.filter((row) => QUIET_DAYS.has(new Date(row.starting_at!).getUTCDate()))
    expect(quiet.map((row) => row.cost)).toEqual(['0.000000', '0.000000', '0.000000', '0.000000'])
    // Without it, empty days have no rows.
    expect(readCsv((await get(`/v1/costs?${MONTH}&format=csv`)).text)).toHaveLength(26)

    // A report pinned to one workspace shows that workspace (and its name) on empty days too.
    const pinned = readCsv(
      (
        await get(
          `/v1/usage?${MONTH}&format=csv&fill_empty=true&group_by=workspace_id&workspace_id=${research}`
        )
      ).text
    )
    expect(pinned).toHaveLength(30)
    expect(pinned.find((row) => row.starting_at === '2026-11-05T00:00:00Z')).toEqual({
      starting_at: '2026-11-05T00:00:00Z',
      ending_at: '2026-11-06T00:00:00Z',
      workspace_id: research,
      workspace_name: 'Research, "Lab" 2',
      input_tokens: '0',
      output_tokens: '0',
      requests: '0',
      cost: '0.000000',
      currency: 'USD',
    })

    const json = await get(
      '/v1/usage?starting_at=2026-11-05T00:00:00Z&ending_at=2026-11-07T00:00:00Z&fill_empty=true&group_by=model'
    )
    expect(json.body.data[0].results).toEqual([
      { model: null, input_tokens: 0, output_tokens: 0, requests: 0, cost: '0.000000' },
    ])
    expect(json.body.data[1].results.length).toBeGreaterThan(1)
    expect(json.body.data[1].results.every((r: { cost: string }) => r.cost !== '0.000000')).toBe(
      true
    )
  })

  it('never shows another organization’s workspace names', async () => {
    const res = await get(
      `/v1/costs?${MONTH}&format=csv&fill_empty=true&group_by=workspace_id&workspace_id=${research}`,
      other.adminKey
    )
    expect(res.status).toBe(200)
    const rows = readCsv(res.text)
    expect(rows).toHaveLength(30)
    expect(rows.every((row) => row.workspace_name === '' && row.cost === '0.000000')).toBe(true)
    expect(res.text).not.toContain('Research')
  })

  it('rejects what a CSV export cannot honour, naming the parameter', async () => {
    const json = await get(`/v1/costs?${MONTH}&limit=7`)
    for (const [path, param] of [
      [`/v1/costs?${MONTH}&format=csv&page=${encodeURIComponent(json.body.next_page)}`, 'page'],
      [
        '/v1/usage?starting_at=2026-08-01T00:00:00Z&ending_at=2026-12-01T00:00:00Z&bucket_width=1h&format=csv',
        'ending_at',
      ],
      [`/v1/costs?${MONTH}&format=csv&fill_empty=yes`, 'fill_empty'],
      [`/v1/costs?${MONTH}&format=xlsx`, 'format'],
    ] as const) {
      const res = await get(path)
      expect(res.status, path).toBe(400)
      expect(res.body.error.type, path).toBe('invalid_request')
      expect(res.body.error.param, path).toBe(param)
    }
  })
})
