/**
 * Usage benchmark:
 * 1. Ingestion: events/s through the whole HTTP path (node server → Hono → auth → validation →
 *    journal + raw events) against BatchWriteItem of the same raw event items, written with the
 *    same concurrency to another table of the same embedded store, interleaved batch by batch.
 * 2. Aggregation: a run after 100,000 events over 100 workspaces, and a run with nothing new.
 */
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { createApp } from '../../functions/app/app.js'
import { createApiKey } from '../../functions/domain/api-keys.js'
import { createServiceKey } from '../../functions/domain/keys.js'
import { createMember } from '../../functions/domain/members.js'
import { createOrganization } from '../../functions/domain/organizations.js'
import { createWorkspace } from '../../functions/domain/workspaces.js'
import { systemClock } from '../../functions/lib/clock.js'
import { newUlid } from '../../functions/lib/ids.js'
import { generateSecret } from '../../functions/lib/secrets.js'
import type { UsageEvent } from '../../functions/model/index.js'
import { createDocumentClient, ensureTable } from '../../functions/store/client.js'
import { Db } from '../../functions/store/db.js'
import { startEmbeddedStore } from '../../functions/store/embedded.js'
import { rawEventItem } from '../../functions/store/usage/events.js'
import { journalSlotItems } from '../../functions/store/usage/journal.js'
import { runAggregation } from '../../functions/usage/aggregation.js'
import { rawEventExpiry } from '../../functions/usage/ingestion.js'
import { CountingDb } from '../../test/helpers/crashing-db.js'
import type { BenchSuite, BenchTable } from '../run.js'
import { fmt } from '../stats.js'

const WORKSPACES = 100
const EVENTS = 100_000
const BATCH = 1000
/** Batches in flight at once, for the HTTP path and the baseline alike. */
const CONCURRENT_BATCHES = 4
/** BatchWriteItem calls in flight per batch, as the ingestion path uses. */
const CALLS_PER_BATCH = 4

/** Real key and member ids per workspace: ingestion rejects ids the organization lacks. */
interface Subjects {
  keys: string[][]
  members: string[][]
}

function events(
  organizationId: string,
  workspaceIds: string[],
  subjects: Subjects,
  now: Date
): UsageEvent[][] {
  const models = ['claude-sonnet-4', 'claude-haiku-4', 'claude-opus-4']
  const batches: UsageEvent[][] = []
  for (let b = 0; b < EVENTS / BATCH; b++) {
    const batch: UsageEvent[] = []
    for (let i = 0; i < BATCH; i++) {
      const n = b * BATCH + i
      const ws = n % WORKSPACES
      // Mostly the last three hours; one in twenty up to 30 days late.
      const ageMs = n % 20 === 0 ? (n % 30) * 86_400_000 : (n % 180) * 60_000
      batch.push({
        id: `bench-${n}`,
        organization_id: organizationId,
        workspace_id: workspaceIds[ws]!,
        timestamp: new Date(now.getTime() - ageMs).toISOString(),
        product: n % 3 ? 'chat' : 'code',
        model: models[n % models.length]!,
        api_key_id: n % 2 ? subjects.keys[ws]![n % 3]! : null,
        member_id: n % 2 ? null : subjects.members[ws]![n % 4]!,
        input_tokens: 500 + (n % 2000),
        output_tokens: 100 + (n % 700),
        requests: 1,
        cost_micros: 0,
      })
    }
    batches.push(batch)
  }
  return batches
}

async function inGroups<T>(items: T[], size: number, run: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run))
}

const suite: BenchSuite = {
  name: 'Usage: ingestion and aggregation',
  async run(): Promise<BenchTable[]> {
    const store = await startEmbeddedStore()
    const doc = createDocumentClient({ endpoint: store.endpoint })
    await ensureTable(doc, 'bench-usage')
    await ensureTable(doc, 'bench-raw')
    await ensureTable(doc, 'bench-same')
    const db = new Db(doc, 'bench-usage')
    const rawDb = new Db(doc, 'bench-raw')
    const sameDb = new Db(doc, 'bench-same')
    const ctx = {
      db,
      clock: systemClock,
      actor: { type: 'system' as const, id: 'bench' },
      requestId: null,
    }
    const org = await createOrganization(ctx, { name: 'Bench' })
    const workspaceIds = [org.default_workspace.id]
    while (workspaceIds.length < WORKSPACES) {
      workspaceIds.push(
        (await createWorkspace(ctx, org.organization.id, { name: `ws ${workspaceIds.length}` })).id
      )
    }
    // What the events name (odd events a key of their workspace, even ones a member).
    const subjects: Subjects = { keys: [], members: [] }
    for (const [ws, workspaceId] of workspaceIds.entries()) {
      const keys: string[] = []
      const members: string[] = []
      for (let k = 0; k < 4; k++) {
        if (ws % 2 && k < 3) {
          const key = await createApiKey(ctx, org.organization.id, {
            name: `bench ${ws}.${k}`,
            workspace_id: workspaceId,
          })
          keys.push(key.id)
        }
        if (ws % 2 === 0 && k % 2 === 0) {
          const member = await createMember(ctx, org.organization.id, {
            email: `bench-${ws}-${k}@example.com`,
            name: `Bench ${ws}.${k}`,
          })
          members[k] = member.id
        }
      }
      subjects.keys.push(keys)
      subjects.members.push(members)
    }
    const service = await createServiceKey(ctx, 'bench')
    const app = createApp({ db, clock: systemClock, operatorKey: generateSecret('operator') })
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
    await new Promise((resolve) => server.once('listening', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/usage/events`

    const batches = events(org.organization.id, workspaceIds, subjects, new Date())
    const bodies = batches.map((batch) =>
      JSON.stringify({ events: batch.map(({ cost_micros, ...event }) => event) })
    )
    const now = new Date()
    const rawItems = batches.map((batch) =>
      batch.map((event) => rawEventItem(event, now.toISOString(), rawEventExpiry(event)))
    )
    // What the path persists per batch: the raw event items and the journal slot(s).
    const sameItems = batches.map((batch, i) => [
      ...rawItems[i]!,
      ...journalSlotItems(batch, now, () => newUlid(now)),
    ])
    const post = async (index: number) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${service.secret}`, 'content-type': 'application/json' },
        body: bodies[index]!,
      })
      const body = (await res.json()) as { accepted: number }
      if (res.status !== 200 || body.accepted !== BATCH) throw new Error(`ingest: ${res.status}`)
    }
    const rawOnly = (index: number) => rawDb.batchWrite(rawItems[index]!, [], CALLS_PER_BATCH)
    const same = (index: number) => sameDb.batchWrite(sameItems[index]!, [], CALLS_PER_BATCH)

    // Interleaved in groups so both see the same machine load and store size.
    const elapsed = { http: 0, same: 0, rawOnly: 0 }
    const indexes = batches.map((_, i) => i)
    for (let i = 0; i < indexes.length; i += CONCURRENT_BATCHES * 2) {
      const group = indexes.slice(i, i + CONCURRENT_BATCHES * 2)
      for (const [name, run] of [
        ['same', same],
        ['http', post],
        ['rawOnly', rawOnly],
      ] as const) {
        const start = performance.now()
        await inGroups(group, CONCURRENT_BATCHES, run)
        elapsed[name] += performance.now() - start
      }
    }
    server.close()
    const rate = (ms: number) => EVENTS / (ms / 1000)
    const httpRate = rate(elapsed.http)
    const sameRate = rate(elapsed.same)
    const rawOnlyRate = rate(elapsed.rawOnly)

    const counting = new CountingDb(db)
    let start = performance.now()
    const full = await runAggregation({ db: counting, clock: systemClock })
    const fullMs = performance.now() - start
    const fullCounts = { ...counting }
    const idle = new CountingDb(db)
    start = performance.now()
    const nothing = await runAggregation({ db: idle, clock: systemClock })
    const idleMs = performance.now() - start
    doc.destroy()
    await store.close()

    return [
      {
        title: `Ingestion: ${EVENTS.toLocaleString('en')} events in batches of ${BATCH}, ${CONCURRENT_BATCHES} batches at a time`,
        columns: ['path', 'events/s', 'relative to baseline'],
        rows: [
          [
            'baseline: BatchWriteItem of the same items (raw events + journal slots)',
            fmt(sameRate, 0),
            '1.00',
          ],
          ['POST /v1/usage/events over HTTP', fmt(httpRate, 0), fmt(httpRate / sameRate, 2)],
          [
            '(for reference) BatchWriteItem of the raw event items alone',
            fmt(rawOnlyRate, 0),
            fmt(rawOnlyRate / sameRate, 2),
          ],
        ],
        notes: [
          'Target: HTTP ≥ 0.60 of the baseline. The HTTP path adds authentication, per-event ' +
            'validation and pricing, and the duplicate check (a consistent BatchGetItem per 100 events).',
          `Groups of ${CONCURRENT_BATCHES * 2} batches alternate the three paths, against one ` +
            'embedded store (dynalite, in this process), into separate tables.',
        ],
      },
      {
        title: `Aggregation over ${WORKSPACES} workspaces`,
        columns: [
          'run',
          'events aggregated',
          'rounds',
          'time (s)',
          'read calls',
          'items read',
          'write calls',
        ],
        rows: [
          [
            `after ${EVENTS.toLocaleString('en')} new events`,
            full.events_aggregated,
            full.rounds,
            fmt(fullMs / 1000, 2),
            fullCounts.readCalls,
            fullCounts.itemsRead,
            fullCounts.writeCalls,
          ],
          [
            'nothing new',
            nothing.events_aggregated,
            nothing.rounds,
            fmt(idleMs / 1000, 2),
            idle.readCalls,
            idle.itemsRead,
            idle.writeCalls,
          ],
        ],
        notes: [
          'Read calls: GetItem, Query pages and BatchGetItem calls (100 keys each); write calls: PutItem/UpdateItem and BatchWriteItem calls (25 items each).',
        ],
      },
    ]
  },
}

export default suite
