/**
 * Usage benchmark:
 * 1. Ingestion: events/s through the whole HTTP path (node server → Hono → auth → validation →
 *    journal + event copies) against BatchWriteItem of the same items, written with the
 *    same concurrency to another table of the same embedded store, interleaved batch by batch.
 * 2. Aggregation: a run after 100,000 events over 100 workspaces, and a run with nothing new.
 * 3. Capacity units per event end to end (ingestion over HTTP + aggregation), counted from the
 *    store's own request log (bench/store-request-log.ts: dynalite reports none, so the units
 *    are computed from item sizes by DynamoDB's rules).
 */
import { randomUUID } from 'node:crypto'
import { createApp } from '../../functions/app/app.js'
import { createApiKey } from '../../functions/domain/api-keys.js'
import type { ServiceContext } from '../../functions/domain/context.js'
import { createServiceKey } from '../../functions/domain/keys.js'
import { createMember } from '../../functions/domain/members.js'
import { createOrganization } from '../../functions/domain/organizations.js'
import { createWorkspace } from '../../functions/domain/workspaces.js'
import { systemClock } from '../../functions/lib/clock.js'
import { newUlid } from '../../functions/lib/ids.js'
import { generateSecret } from '../../functions/lib/secrets.js'
import type { PriceEntry, UsageEvent } from '../../functions/model/index.js'
import { createDocumentClient, ensureTable } from '../../functions/store/client.js'
import { Db, type Item } from '../../functions/store/db.js'
import { startEmbeddedStoreProcess } from '../../functions/store/embedded.js'
import {
  COPY_WRITE_CONCURRENCY,
  copyItem,
  USAGE_EVENT_BUCKETS,
  usageEvents,
} from '../../functions/store/usage/events.js'
import { journalSlots, slotName } from '../../functions/store/usage/journal.js'
import { runAggregation } from '../../functions/usage/aggregation.js'
import { exactCostFields, rawEventExpiry } from '../../functions/usage/ingestion.js'
import { exactCost, organizationPriceEntries, priceAt } from '../../functions/usage/prices.js'
import { CountingDb } from '../../test/helpers/crashing-db.js'
import type { BenchSuite, BenchTable } from '../run.js'
import { cpuMsOf, startApiServer } from '../servers.js'
import { closedNetworkRate, fmt } from '../stats.js'
import { type LoggedRequest, startStoreRequestLog } from '../store-request-log.js'
import { TARGET_COLUMNS, targetRow } from '../targets.js'

const WORKSPACES = 100
const EVENTS = 100_000
const BATCH = 1000
/** Batches in flight at once, for the HTTP path and the baseline alike. */
const CONCURRENT_BATCHES = 4
/** BatchWriteItem calls in flight per batch, as the ingestion path uses. */
const CALLS_PER_BATCH = COPY_WRITE_CONCURRENCY
/** Events ingested and aggregated through the request log (units per event). */
const COUNTED_EVENTS = 20_000
/** The same with random ids, after as many others ingested and aggregated uncounted. */
const RANDOM_COUNTED_EVENTS = 20_000
const RANDOM_WARM_UP_EVENTS = 20_000
/** Issue 12's targets. */
const INGESTION_RATIO_TARGET = 0.8
const WRITE_UNITS_TARGET = 1.5
const READ_UNITS_TARGET = 1

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

/** Requests timed per kind by storeCpuPerRequest. */
const REQUEST_SAMPLES = 2000

/**
 * Store CPU (ms) per request of two kinds: the duplicate check's range Query over ids not
 * written yet (the common case: new events), and a BatchWriteItem of 25 copies.
 */
async function storeCpuPerRequest(storePid: number, db: Db, copies: Item[]) {
  const inFlight = CONCURRENT_BATCHES * CALLS_PER_BATCH
  const timed = async (request: (i: number) => Promise<unknown>) => {
    let next = 0
    const before = cpuMsOf(storePid)
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < REQUEST_SAMPLES) await request(next++)
      })
    )
    return (cpuMsOf(storePid) - before) / REQUEST_SAMPLES
  }
  const [first] = copies
  const partition = first!.PK as string
  const query = await timed((i) =>
    db.query({
      partition,
      sort: { between: [`unwritten-${i} `, `unwritten-${i}9 \x7f`] },
      limit: 2 * Math.ceil(BATCH / USAGE_EVENT_BUCKETS) + 16,
      consistent: true,
    })
  )
  const batchWrite = await timed((i) =>
    db.batchWrite(
      copies.slice(0, 25).map((copy) => ({ ...copy, SK: `${copy.SK}#${i}` })),
      [],
      1
    )
  )
  return { query, batchWrite }
}

/** The events with the cost ingestion fixes for them (the price at their timestamp), as stored. */
function priced(batches: UsageEvent[][], entries: PriceEntry[]): UsageEvent[][] {
  return batches.map((batch) =>
    batch.map((event) => {
      const price = priceAt(entries, event.model, new Date(event.timestamp))
      if (!price) throw new Error(`no price for ${event.model}`)
      return { ...event, ...exactCostFields(exactCost(price, event)) }
    })
  )
}

/**
 * The baseline must write what the path writes: the copy of `event` in each table, apart from
 * its slot and the time it was received, holds the same attributes with the same values.
 */
async function sameItemsAsThePath(pathDb: Db, baselineDb: Db, event: UsageEvent): Promise<void> {
  const copy = async (db: Db) => {
    const [item] = (await usageEvents.stored(db, event.organization_id, event.id, new Date())).map(
      ({ SK, received_at, ...rest }) => rest
    )
    if (!item) throw new Error(`no copy of ${event.id}`)
    return JSON.stringify(Object.entries(item).sort(([a], [b]) => a.localeCompare(b)))
  }
  const [written, baseline] = await Promise.all([copy(pathDb), copy(baselineDb)])
  if (written !== baseline) {
    throw new Error(`the baseline writes other items than the path:\n${written}\n${baseline}`)
  }
}

async function inGroups<T>(items: T[], size: number, run: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run))
}

/** An organization of WORKSPACES workspaces with the keys and members the events name. */
async function seed(ctx: ServiceContext) {
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
  return { org, workspaceIds, subjects }
}

const suite: BenchSuite = {
  name: 'Usage: ingestion and aggregation',
  async run(): Promise<BenchTable[]> {
    // The store in its own process, as `npm start` runs it (issue 12: it must not share the API's
    // event loop); the baseline and the HTTP path write to it alike.
    const store = await startEmbeddedStoreProcess()
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
    const { org, workspaceIds, subjects } = await seed(ctx)
    const service = await createServiceKey(ctx, 'bench')
    // The API as `npm start` runs it, in its own process over the same store and table: the
    // bench's own work (bodies, fetch, the baseline's SDK calls) does not share its event loop.
    const api = await startApiServer(store.endpoint, generateSecret('operator'), 'bench-usage')
    const url = `${api.url}/v1/usage/events`

    const batches = priced(
      events(org.organization.id, workspaceIds, subjects, new Date()),
      await organizationPriceEntries(ctx, org.organization.id)
    )
    const bodies = batches.map((batch) =>
      JSON.stringify({
        events: batch.map(({ cost_micros, cost_sub_micros, ...event }) => event),
      })
    )
    const now = new Date()
    // What the path persists per batch: the journal slot(s) and a copy of each event naming its
    // slot (the raw event items).
    const journalled = batches.map((batch) => journalSlots(batch, now, () => newUlid(now)))
    const rawItems = journalled.map((slots) =>
      slots.flatMap(({ ref, events }) =>
        events.map((event) =>
          copyItem(event, slotName(ref), now.toISOString(), rawEventExpiry(event))
        )
      )
    )
    const sameItems = journalled.map((slots, i) => [
      ...rawItems[i]!,
      ...slots.map((slot) => slot.item),
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
    // CPU time of each process while each path ran (where the time goes; Linux /proc).
    const cpu = {
      http: { store: 0, api: 0, bench: 0 },
      same: { store: 0, api: 0, bench: 0 },
      rawOnly: { store: 0, api: 0, bench: 0 },
    }
    const indexes = batches.map((_, i) => i)
    for (let i = 0; i < indexes.length; i += CONCURRENT_BATCHES * 2) {
      const group = indexes.slice(i, i + CONCURRENT_BATCHES * 2)
      for (const [name, run] of [
        ['same', same],
        ['http', post],
        ['rawOnly', rawOnly],
      ] as const) {
        const start = performance.now()
        const cpuBefore = { store: cpuMsOf(store.pid), api: api.cpuMs(), bench: benchCpuMs() }
        await inGroups(group, CONCURRENT_BATCHES, run)
        elapsed[name] += performance.now() - start
        cpu[name].store += cpuMsOf(store.pid) - cpuBefore.store
        cpu[name].api += api.cpuMs() - cpuBefore.api
        cpu[name].bench += benchCpuMs() - cpuBefore.bench
      }
    }
    await api.stop()
    await sameItemsAsThePath(db, sameDb, batches[0]![0]!)
    const perRequest = await storeCpuPerRequest(store.pid, rawDb, rawItems[0]!)
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
    const {
      totals: units,
      byOperation: operations,
      aggregationMs,
    } = await unitsPerEvent(store.endpoint)
    const random = await unitsPerEvent(store.endpoint, RANDOM_COUNTED_EVENTS, {
      random: true,
      warmUp: RANDOM_WARM_UP_EVENTS,
    })
    doc.destroy()
    await store.close()
    const ratio = httpRate / sameRate
    const model = queueingModel(cpu, sameRate)

    const perEvent = (phase: { writeUnits: number; readUnits: number } | undefined) => ({
      write: (phase?.writeUnits ?? 0) / COUNTED_EVENTS,
      read: (phase?.readUnits ?? 0) / COUNTED_EVENTS,
    })
    const ingestion = perEvent(units.get('ingestion'))
    const aggregation = perEvent(units.get('aggregation'))
    const endToEnd = {
      write: ingestion.write + aggregation.write,
      read: ingestion.read + aggregation.read,
    }
    const randomUnits = (kind: 'writeUnits' | 'readUnits') =>
      ((random.totals.get('ingestion')?.[kind] ?? 0) +
        (random.totals.get('aggregation')?.[kind] ?? 0)) /
      RANDOM_COUNTED_EVENTS
    return [
      {
        title: 'Usage targets (issue 12)',
        columns: TARGET_COLUMNS,
        rows: [
          targetRow(
            'Ingestion over HTTP ÷ BatchWriteItem of the same items',
            `${fmt(ratio, 2)} (${fmt(httpRate, 0)} vs ${fmt(sameRate, 0)} events/s)`,
            `≥ ${INGESTION_RATIO_TARGET}`,
            ratio >= INGESTION_RATIO_TARGET
          ),
          targetRow(
            'Write units per event, end to end',
            `${fmt(endToEnd.write, 2)} (ingestion ${fmt(ingestion.write, 2)}, aggregation ${fmt(aggregation.write, 2)})`,
            `≤ ${WRITE_UNITS_TARGET}`,
            endToEnd.write <= WRITE_UNITS_TARGET
          ),
          targetRow(
            'Read units per event, end to end',
            `${fmt(endToEnd.read, 2)} (ingestion ${fmt(ingestion.read, 2)}, aggregation ${fmt(aggregation.read, 2)})`,
            `≤ ${READ_UNITS_TARGET}`,
            endToEnd.read <= READ_UNITS_TARGET
          ),
          [
            `(for reference) write / read units per event with random ids (UUIDv4), after ${RANDOM_WARM_UP_EVENTS.toLocaleString('en')} others`,
            `${fmt(randomUnits('writeUnits'), 2)} / ${fmt(randomUnits('readUnits'), 2)}; aggregating them ${fmt(random.aggregationMs / 1000, 1)} s (counters: ${fmt(aggregationMs / 1000, 1)} s)`,
            '—',
            'not a target: ids that do not sort together are checked one query each, at ingestion and in the job',
          ],
        ],
        notes: [
          `Units: ${COUNTED_EVENTS.toLocaleString('en')} new events (batches of ${BATCH}) through POST /v1/usage/events, then the aggregation runs that count them, into a fresh table; every store request is taken from the store's own request log (bench/store-request-log.ts). dynalite reports no consumed capacity, so units are computed from the item sizes by DynamoDB's rules: 1 write unit per started KB written (deletes: the item's size; updates: the larger of before and after), 1 read unit per started 4 KB strongly consistent, half that eventually consistent, per item for GetItem/BatchGetItem (a missing item costs the minimum) and per page for Query. At on-demand prices (us-east-1: $0.625 per million write request units, $0.125 per million read request units) that is $${fmt(endToEnd.write * 0.625 + endToEnd.read * 0.125, 2)} per million events.`,
          `By phase and operation: ${operations.join('; ')}.`,
        ],
      },
      {
        title: `Ingestion: ${EVENTS.toLocaleString('en')} events in batches of ${BATCH}, ${CONCURRENT_BATCHES} batches at a time`,
        columns: [
          'path',
          'events/s',
          'relative to baseline',
          'store CPU ms / batch',
          'API CPU ms / batch',
          'bench CPU ms / batch',
        ],
        rows: [
          [
            'baseline: BatchWriteItem of the same items (event copies + journal slots)',
            fmt(sameRate, 0),
            '1.00',
            ...cpuPerBatch(cpu.same),
          ],
          [
            'POST /v1/usage/events over HTTP',
            fmt(httpRate, 0),
            fmt(httpRate / sameRate, 2),
            ...cpuPerBatch(cpu.http),
          ],
          [
            '(for reference) BatchWriteItem of the event copies alone',
            fmt(rawOnlyRate, 0),
            fmt(rawOnlyRate / sameRate, 2),
            ...cpuPerBatch(cpu.rawOnly),
          ],
        ],
        notes: [
          `Target: HTTP ≥ ${INGESTION_RATIO_TARGET} of the baseline. The HTTP path adds authentication, per-event ` +
            'validation and pricing, the duplicate check (one range Query of the copies per ' +
            "organization and bucket the batch's ids fall in — 16 for a batch of 1,000 — beside " +
            "one BatchGetItem of the organization's revision: its facts, spend and rate limits are " +
            'cached at that revision) and live spend (one UpdateItem per organization, shard and ' +
            'month still read). CPU columns: the processes during each path (Linux /proc), per ' +
            `batch of ${BATCH}. With as many batches in flight, each path's rate follows the time ` +
            "a batch takes: the HTTP path's copies take about as long as the baseline's writes " +
            "(the store's queue is as long), and the duplicate check, the journal slots and live " +
            "spend are three more round trips, each waiting behind the other batches' writes in " +
            `that queue; in this run they added ${fmt(100 * (cpu.http.store / cpu.same.store - 1), 0)} % to the store CPU per batch.`,
          `Queueing model: the API and the store are each one thread, and ${CONCURRENT_BATCHES} requests cycle between them. Exact mean value analysis of that closed network (bench/stats.ts), fed only with the CPU per batch measured above — the baseline as ${CONCURRENT_BATCHES * CALLS_PER_BATCH} streams of a 1/${CALLS_PER_BATCH} batch through the store and the bench's client — predicts ${fmt(model.http, 0)} events/s over HTTP and ${fmt(model.same, 0)} for the baseline: a ratio of ${fmt(model.http / model.same, 2)}, against ${fmt(ratio, 2)} measured. Even with an API that took no time, the HTTP path could not go faster than one store thread serves its batches (1,000 ms of CPU a second ÷ the HTTP path's store CPU per batch): about ${fmt(model.storeBound, 2)} of the measured baseline. So ≥ ${INGESTION_RATIO_TARGET} needs the store's extra work per batch (the duplicate check, the slots' own requests, live spend) to shrink, not only the API's.`,
          `What one store request costs the store itself, measured after the run on the same store (${REQUEST_SAMPLES.toLocaleString('en')} each, ${CONCURRENT_BATCHES * CALLS_PER_BATCH} in flight): a duplicate check's range Query of new ids ${fmt(perRequest.query, 2)} ms of store CPU, a BatchWriteItem of 25 event copies ${fmt(perRequest.batchWrite, 2)} ms. Most of a small request's cost is the store's per-request work (HTTP, validation, expression parsing), not its items: the ${USAGE_EVENT_BUCKETS} Queries of one batch's duplicate check alone are ${fmt(USAGE_EVENT_BUCKETS * perRequest.query, 1)} ms, ${fmt((100 * USAGE_EVENT_BUCKETS * perRequest.query) / (cpu.same.store / (EVENTS / BATCH)), 0)} % of the baseline's store CPU per batch.`,
          `Groups of ${CONCURRENT_BATCHES * 2} batches alternate the three paths, against one ` +
            'embedded store (dynalite) in its own process, as `npm start` runs it, into separate ' +
            'tables. The API runs as `npm start` does (functions/entry/local-server.ts, its own ' +
            'process, over that store), so neither the store nor the bench shares its event loop; ' +
            'the baseline is sent from the bench process with the same SDK client settings.',
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

function benchCpuMs(): number {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

/**
 * What the measured CPU per batch of each process allows (events/s), by the closed-network
 * model: the HTTP path's requests cycle through the API and the store, the baseline's
 * BatchWriteItem streams through the store and the bench's client.
 */
function queueingModel(
  cpu: Record<'http' | 'same', { store: number; api: number; bench: number }>,
  measuredSameRate: number
) {
  const batches = EVENTS / BATCH
  const perBatch = (ms: number) => ms / batches
  const http =
    closedNetworkRate([perBatch(cpu.http.api), perBatch(cpu.http.store)], CONCURRENT_BATCHES) *
    BATCH
  const streams = CONCURRENT_BATCHES * CALLS_PER_BATCH
  const same =
    (closedNetworkRate(
      [perBatch(cpu.same.store) / CALLS_PER_BATCH, perBatch(cpu.same.bench) / CALLS_PER_BATCH],
      streams
    ) /
      CALLS_PER_BATCH) *
    BATCH
  // The store's own rate for the HTTP path's batches (one thread: about 1,000 ms of CPU a second).
  const storeBound = ((1000 / perBatch(cpu.http.store)) * BATCH) / measuredSameRate
  return { http, same, storeBound }
}

function cpuPerBatch(cpu: { store: number; api: number; bench: number }): string[] {
  const batches = EVENTS / BATCH
  return [cpu.store, cpu.api, cpu.bench].map((ms) => fmt(ms / batches, 1))
}

/** Per phase and operation: store requests per ingestion request and units per event. */
function byOperation(requests: readonly LoggedRequest[], httpRequests: number): string[] {
  const rows = new Map<string, { calls: number; write: number; read: number }>()
  for (const entry of requests) {
    if (!entry.phase) continue // seeding
    const name = `${entry.phase} ${entry.operation}`
    const row = rows.get(name) ?? { calls: 0, write: 0, read: 0 }
    row.calls++
    row.write += entry.writeUnits
    row.read += entry.readUnits
    rows.set(name, row)
  }
  const events = httpRequests * BATCH
  return [...rows.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([name, row]) =>
        `${name}: ${fmt(row.calls / httpRequests, 1)} per request of ${BATCH} events, ${fmt(row.write / events, 3)} write / ${fmt(row.read / events, 3)} read units per event`
    )
}

/**
 * Write and read units of ingesting `count` new events over HTTP and aggregating them, by
 * phase, from the store's request log (a fresh table, so nothing else is counted). `random`
 * gives the events random UUIDs (v4) instead of the bench's counters, and first ingests and
 * aggregates `warmUp` such events uncounted, so the copies' partitions hold other ids between
 * the new ones as they do in a table in use.
 */
async function unitsPerEvent(
  storeEndpoint: string,
  count = COUNTED_EVENTS,
  ids: { random: boolean; warmUp: number } = { random: false, warmUp: 0 }
) {
  const log = await startStoreRequestLog(storeEndpoint)
  const doc = createDocumentClient({ endpoint: log.endpoint })
  try {
    const table = ids.random ? 'bench-units-random' : 'bench-units'
    await ensureTable(doc, table)
    const db = new Db(doc, table)
    const ctx = {
      db,
      clock: systemClock,
      actor: { type: 'system' as const, id: 'bench' },
      requestId: null,
    }
    const { org, workspaceIds, subjects } = await seed(ctx)
    const service = await createServiceKey(ctx, 'bench-units')
    const app = createApp({ db, clock: systemClock, operatorKey: generateSecret('operator') })
    const all = events(org.organization.id, workspaceIds, subjects, new Date())
    const renamed = ids.random
      ? all.map((batch) => batch.map((event) => ({ ...event, id: randomUUID() })))
      : all
    const warmUp = renamed.slice(0, ids.warmUp / BATCH)
    const batches = renamed.slice(ids.warmUp / BATCH, (ids.warmUp + count) / BATCH)
    // Authenticating the service key once before counting (its first read is not per event).
    await app.request('/v1/usage/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${service.secret}`, 'content-type': 'application/json' },
      body: '{"events":[]}',
    })
    const ingest = (all: UsageEvent[][]) =>
      inGroups(all, CONCURRENT_BATCHES, async (batch) => {
        const res = await app.request('/v1/usage/events', {
          method: 'POST',
          headers: {
            authorization: `Bearer ${service.secret}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ events: batch.map(({ cost_micros, ...event }) => event) }),
        })
        const body = (await res.json()) as { accepted: number }
        if (res.status !== 200 || body.accepted !== BATCH) throw new Error(`ingest: ${res.status}`)
      })
    const aggregate = async (expected: number) => {
      let aggregated = 0
      for (let run = 0; run < 10 && aggregated < expected; run++) {
        aggregated += (await runAggregation({ db, clock: systemClock })).events_aggregated
      }
      if (aggregated !== expected) throw new Error(`aggregated ${aggregated} events`)
    }
    log.setPhase('warm-up')
    await ingest(warmUp)
    await aggregate(ids.warmUp)
    log.setPhase('ingestion')
    await ingest(batches)
    log.setPhase('aggregation')
    const started = performance.now()
    await aggregate(count)
    const aggregationMs = performance.now() - started
    return {
      totals: log.totals(),
      byOperation: byOperation(log.requests, count / BATCH),
      aggregationMs,
    }
  } finally {
    doc.destroy()
    await log.close()
  }
}

export default suite
