import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/**
 * One "next" marker per kind of list (docs/pagination.md): `next_cursor`/`?after=` for lists,
 * `next_page`/`?page=` for the time-paged reports, `X-Next-Cursor` only for a list sent as CSV.
 * Checked on the served document, so a route added later keeps to it too.
 */
let h: Harness
// biome-ignore lint/suspicious/noExplicitAny: the document is open-ended JSON
let doc: any

beforeAll(async () => {
  h = await startHarness()
  doc = (await h.call('GET', '/openapi.json')).body
})
afterAll(() => h.close())

// biome-ignore lint/suspicious/noExplicitAny: the document is open-ended JSON
function resolve(node: any): any {
  let current = node
  while (current?.$ref) {
    current = String(current.$ref)
      .slice(2)
      .split('/')
      .reduce((at, part) => at?.[part], doc)
  }
  return current
}

const kindOf = (schema: { properties?: { object?: { const?: string; enum?: string[] } } }) =>
  schema?.properties?.object?.const ?? schema?.properties?.object?.enum?.[0]

describe('list markers in the OpenAPI document', () => {
  it('lists use next_cursor and ?after=, reports next_page and ?page=, CSV lists X-Next-Cursor', () => {
    const seen = { list: 0, page: 0 }
    for (const [path, item] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
      for (const [method, op] of Object.entries<Record<string, Record<string, unknown>>>(
        // biome-ignore lint/suspicious/noExplicitAny: the document is open-ended JSON
        item as any
      )) {
        const ok = resolve(op.responses?.['200'])
        const schema = resolve(ok?.content?.['application/json']?.schema)
        const kind = kindOf(schema)
        const where = `${method.toUpperCase()} ${path}`
        const query = ((op.parameters ?? []) as { in: string; name: string }[])
          .filter((p) => p.in === 'query')
          .map((p) => p.name)
        const nextHeaders = Object.keys(ok?.headers ?? {}).filter((name) =>
          name.toLowerCase().startsWith('x-next')
        )
        const csv = Boolean(ok?.content?.['text/csv'])
        const markers = Object.keys(schema?.properties ?? {}).filter((name) =>
          name.startsWith('next_')
        )
        if (kind === 'list') {
          seen.list++
          expect(markers, where).toEqual(['next_cursor'])
          // A list that can have more than one page takes its cursor back as `after`.
          if (resolve(schema.properties.has_more)?.const !== false && query.includes('limit')) {
            expect(query, where).toContain('after')
          }
          expect(query, where).not.toContain('page')
          expect(nextHeaders, where).toEqual(csv ? ['X-Next-Cursor'] : [])
        } else if (kind === 'page') {
          seen.page++
          expect(markers, where).toEqual(['next_page'])
          expect(query, where).toContain('page')
          expect(query, where).not.toContain('after')
          // Their CSV is the whole range in one response: no next page to name.
          expect(nextHeaders, where).toEqual([])
        } else {
          expect(nextHeaders, where).toEqual([])
          expect(markers, where).toEqual([])
        }
      }
    }
    expect(seen.list).toBeGreaterThan(10)
    expect(seen.page).toBe(2)
  })
})

describe('GET /v1/policies', () => {
  it('lists the built-in policies, then the custom ones, each by id, the same on every page', async () => {
    const org = await createOrg(h, 'Policy order')
    // Custom ids that sort before, between and after the built-in ones.
    for (const id of ['zz-last', 'aa-first', 'org-middle']) {
      const res = await h.call('PUT', `/v1/policies/${id}`, {
        key: org.adminKey,
        body: {
          description: id,
          cedar: `forbid (principal, action == Action::"use_chat", resource)\nwhen { context has model && context.model == "${id}" };`,
        },
      })
      expect(res.status, res.text).toBe(201)
    }
    const all = await h.call('GET', '/v1/policies?limit=100', { key: org.adminKey })
    expect(all.status).toBe(200)
    const listed = all.body.data as { id: string; source: 'builtin' | 'custom' }[]
    const builtin = listed.filter((p) => p.source === 'builtin').map((p) => p.id)
    expect(builtin.length).toBeGreaterThan(3)
    expect(listed.map((p) => p.id)).toEqual([
      ...builtin.toSorted(),
      'aa-first',
      'org-middle',
      'zz-last',
    ])

    // Paging by 4 shows the same sequence, each policy once.
    const paged: string[] = []
    let after: string | undefined
    do {
      const query = new URLSearchParams({ limit: '4', ...(after ? { after } : {}) })
      const res = await h.call('GET', `/v1/policies?${query}`, { key: org.adminKey })
      expect(res.status).toBe(200)
      paged.push(...res.body.data.map((p: { id: string }) => p.id))
      after = res.body.next_cursor ?? undefined
      expect(res.body.has_more).toBe(after !== undefined)
    } while (after)
    expect(paged).toEqual(listed.map((p) => p.id))
  })
})
