import { invalid } from '../lib/errors.js'
import type { Db, Item, QueryInput } from './db.js'

export interface PageRequest {
  limit: number
  after?: string | undefined
}

export interface Page<T> {
  data: T[]
  has_more: boolean
  next_cursor: string | null
}

/** At most this many DynamoDB pages are read to fill one API page (bounds cost with filters). */
export const MAX_QUERY_PAGES = 10

/**
 * One page of a listing. The cursor is the table key of the last returned item, bound to the
 * listing it came from, so a cursor cannot be replayed against another listing or tenant.
 * `toRecord` may drop items (e.g. expired ones) by returning undefined.
 */
export async function paginate<T>(
  db: Db,
  listing: string,
  query: Omit<QueryInput, 'startKey' | 'limit'>,
  page: PageRequest,
  toRecord: (item: Item) => T | undefined
): Promise<Page<T>> {
  const keyNames = query.index ? ['PK', 'SK', `${query.index}PK`, `${query.index}SK`] : ['PK', 'SK']
  const partitionName = query.index ? `${query.index}PK` : 'PK'
  let startKey = page.after
    ? decodeCursor(page.after, listing, partitionName, query.partition)
    : undefined
  const data: T[] = []
  let lastReturnedKey: Item | undefined
  for (let pages = 0; pages < MAX_QUERY_PAGES; pages++) {
    const need = page.limit + 1 - data.length
    const result = await db.query({
      ...query,
      // With a filter, DynamoDB applies Limit before filtering: read a fuller page.
      limit: query.filter ? Math.max(need, 100) : need,
      ...(startKey ? { startKey } : {}),
    })
    for (const item of result.items) {
      const record = toRecord(item)
      if (record === undefined) continue
      if (data.length === page.limit) {
        return { data, has_more: true, next_cursor: encodeCursor(listing, lastReturnedKey!) }
      }
      data.push(record)
      lastReturnedKey = pick(item, keyNames)
    }
    if (!result.lastKey) return { data, has_more: false, next_cursor: null }
    startKey = result.lastKey
  }
  // Read budget spent before the page filled: hand back what we have and where to resume.
  return { data, has_more: true, next_cursor: encodeCursor(listing, startKey!) }
}

function pick(item: Item, names: string[]): Item {
  const key: Item = {}
  for (const name of names) if (item[name] !== undefined) key[name] = item[name]
  return key
}

export function encodeCursor(listing: string, key: Item): string {
  return Buffer.from(JSON.stringify({ l: listing, k: key })).toString('base64url')
}

export function decodeCursor(
  cursor: string,
  listing: string,
  partitionName: string,
  partition: string
): Item {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      l?: unknown
      k?: Record<string, unknown>
    }
    const key = parsed.k
    const valid =
      parsed.l === listing &&
      key !== undefined &&
      typeof key === 'object' &&
      key[partitionName] === partition &&
      Object.values(key).every((value) => typeof value === 'string')
    if (valid) return key as Item
  } catch {
    // fall through to the error below
  }
  throw invalid('The cursor is not valid for this list.', 'after')
}
