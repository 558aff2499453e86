import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AppError } from '../lib/errors.js'
import type { Db, Item, QueryInput } from './db.js'
import { type Page, paginate } from './pagination.js'

interface Row {
  id: number
  /** Dropped by the server-side filter (only when the query has one). */
  filtered: boolean
  /** Dropped by toRecord (e.g. expired). */
  dropped: boolean
}

/**
 * One partition in memory, queried as DynamoDB does: in sort-key order after startKey, Limit
 * counts items before the filter, and a page that reached Limit returns LastEvaluatedKey even
 * when nothing follows.
 */
function memoryDb(rows: Row[], partition = 'ORG#o1') {
  const items = rows.map((row) => ({
    PK: partition,
    SK: `MEM#${String(row.id).padStart(6, '0')}`,
    ...row,
  }))
  const queries: QueryInput[] = []
  const db = {
    query: async (input: QueryInput) => {
      queries.push(input)
      if (input.partition !== partition) return { items: [] }
      const after = input.startKey?.SK as string | undefined
      const rest = items.filter((item) => after === undefined || item.SK > after)
      const evaluated = rest.slice(0, input.limit ?? rest.length)
      const last = evaluated.at(-1)
      return {
        items: input.filter ? evaluated.filter((item) => !item.filtered) : evaluated,
        ...(last && evaluated.length === input.limit
          ? { lastKey: { PK: last.PK, SK: last.SK } }
          : {}),
      }
    },
  }
  return { db: db as unknown as Db, queries }
}

const toRecord = (item: Item) => (item.dropped ? undefined : (item.id as number))
const FILTER = { expression: 'attribute_not_exists(#f)', names: { '#f': 'filtered' } }

async function walk(db: Db, limit: number, filter: boolean, listing = 'members') {
  const pages: Page<number>[] = []
  let after: string | undefined
  do {
    const page = await paginate(
      db,
      listing,
      { partition: 'ORG#o1', sort: { prefix: 'MEM#' }, ...(filter ? { filter: FILTER } : {}) },
      { limit, after },
      toRecord
    )
    pages.push(page)
    after = page.next_cursor ?? undefined
    if (pages.length > 10_000) throw new Error('the walk does not end')
  } while (after !== undefined)
  return pages
}

const rowsArbitrary = fc
  .array(
    fc.record({ filtered: fc.boolean(), dropped: fc.oneof(fc.constant(false), fc.boolean()) }),
    {
      maxLength: 120,
    }
  )
  .map((flags) => flags.map((f, id) => ({ id, ...f })))

describe('paginate', () => {
  it('walks every kept item exactly once, in order, in pages of at most the limit', async () => {
    await fc.assert(
      fc.asyncProperty(
        rowsArbitrary,
        fc.integer({ min: 1, max: 25 }),
        fc.boolean(),
        async (rows, limit, filter) => {
          const { db } = memoryDb(rows)
          const pages = await walk(db, limit, filter)
          const kept = rows.filter((r) => !r.dropped && !(filter && r.filtered)).map((r) => r.id)
          expect(pages.flatMap((p) => p.data)).toEqual(kept)
          for (const page of pages) {
            expect(page.data.length).toBeLessThanOrEqual(limit)
            expect(page.has_more).toBe(page.next_cursor !== null)
          }
          expect(pages.at(-1)?.has_more).toBe(false)
        }
      ),
      { numRuns: 150 }
    )
  })

  it('asks one more than the limit, or a fuller page when a filter will drop items', async () => {
    const rows = Array.from({ length: 30 }, (_, id) => ({ id, filtered: false, dropped: false }))
    const plain = memoryDb(rows)
    await walk(plain.db, 5, false)
    expect(plain.queries[0]?.limit).toBe(6)
    const filtered = memoryDb(rows)
    await walk(filtered.db, 5, true)
    expect(filtered.queries[0]?.limit).toBe(100)
  })

  it('reads at most ten store pages for one API page, and says where to resume', async () => {
    // Every item is filtered out: without a bound one page would read the whole partition.
    const rows = Array.from({ length: 2_000 }, (_, id) => ({ id, filtered: true, dropped: false }))
    rows.push({ id: 2_000, filtered: false, dropped: false })
    const { db, queries } = memoryDb(rows)
    const first = await paginate(
      db,
      'members',
      { partition: 'ORG#o1', filter: FILTER },
      { limit: 10 },
      toRecord
    )
    expect(queries).toHaveLength(10)
    expect(first).toMatchObject({ data: [], has_more: true })
    const pages = await walk(db, 10, true)
    expect(pages.flatMap((p) => p.data)).toEqual([2_000])
  })

  it('refuses a cursor of another listing or partition, or one that is not a cursor', async () => {
    const rows = Array.from({ length: 10 }, (_, id) => ({ id, filtered: false, dropped: false }))
    const { db } = memoryDb(rows)
    const [first] = await walk(db, 3, false)
    const cursor = first!.next_cursor!
    const open = (listing: string, partition: string, after: string) =>
      paginate(db, listing, { partition }, { limit: 3, after }, toRecord)
    await expect(open('members', 'ORG#o1', cursor)).resolves.toMatchObject({ data: [3, 4, 5] })
    const forged = Buffer.from(
      JSON.stringify({ l: 'members', k: { PK: 'ORG#o1', SK: 5 } })
    ).toString('base64url')
    for (const [listing, partition, after] of [
      ['groups', 'ORG#o1', cursor],
      ['members', 'ORG#o2', cursor],
      ['members', 'ORG#o1', 'not-a-cursor'],
      ['members', 'ORG#o1', forged], // a key value that is not a string
    ] as const) {
      const error = await open(listing, partition, after).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(AppError)
      expect(error).toMatchObject({ type: 'invalid_request', param: 'after' })
    }
  })
})
