import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDocumentClient, ensureTable } from '../functions/store/client.js'
import { Db } from '../functions/store/db.js'
import {
  type EmbeddedStoreProcess,
  startEmbeddedStoreProcess,
} from '../functions/store/embedded.js'

/**
 * Issue 10 item 5: the embedded store kept every Query's LevelDB iterator open (≈ 20 KiB each),
 * so a long-running `npm start` grew without bound. Here the persisted store runs in its own
 * process, as under `npm start`, and its RSS is sampled around thousands of list-style queries.
 */
const WARM_UP = 12_000
const QUERIES = 12_000
const CONCURRENCY = 8
/**
 * Unfixed, 12,000 queries grew the store by ≈ 300 MiB; fixed, by a few MiB of allocator noise once
 * warm (Node 24's heap keeps growing for the first ≈ 10,000 queries, to a plateau, hence the warm-up).
 */
const MAX_GROWTH_MIB = 40

const dir = mkdtempSync(join(tmpdir(), 'embedded-store-memory-'))
let store: EmbeddedStoreProcess
let db: Db

function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024
  } catch {
    return (
      Number(
        execFileSync('ps', ['-o', 'rss=', '-p', String(pid)])
          .toString()
          .trim()
      ) / 1024
    )
  }
}

beforeAll(async () => {
  store = await startEmbeddedStoreProcess({ path: join(dir, 'dynamodb') })
  const doc = createDocumentClient({ endpoint: store.endpoint })
  await ensureTable(doc, 'memory')
  db = new Db(doc, 'memory')
  // One organization's workspaces: a partition of 60 items of a realistic size.
  for (let i = 0; i < 60; i++) {
    await db.put({
      PK: 'ORG#memory',
      SK: `WS#${String(i).padStart(3, '0')}`,
      name: `Workspace ${i}`,
      description: 'x'.repeat(300),
    })
  }
}, 60_000)

afterAll(async () => {
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The shapes the list routes send: a first page, a next page, and an unbounded read. */
async function queries(count: number): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const n = next++
        if (n % 3 === 0)
          await db.query({ partition: 'ORG#memory', sort: { prefix: 'WS#' }, limit: 21 })
        else if (n % 3 === 1) {
          await db.query({
            partition: 'ORG#memory',
            sort: { prefix: 'WS#' },
            limit: 21,
            startKey: { PK: 'ORG#memory', SK: 'WS#020' },
          })
        } else await db.query({ partition: 'ORG#memory', sort: { prefix: 'WS#' } })
      }
    })
  )
}

describe('embedded store memory', () => {
  it(`stays flat over ${QUERIES.toLocaleString('en')} list queries in its own process`, async () => {
    await queries(WARM_UP)
    const before = rssMiB(store.pid)
    await queries(QUERIES)
    const after = rssMiB(store.pid)
    // Still answering correctly after the load.
    const page = await db.query({ partition: 'ORG#memory', sort: { prefix: 'WS#' }, limit: 21 })
    expect(page.items).toHaveLength(21)
    expect(after - before, `store RSS ${before.toFixed(0)} → ${after.toFixed(0)} MiB`).toBeLessThan(
      MAX_GROWTH_MIB
    )
  }, 180_000)
})
