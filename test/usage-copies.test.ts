/**
 * Exactly once with copies (docs/access-patterns.md, "Exactly once without transactions"): each
 * slot writes its own copy of an event, and the job counts an id once whatever interleaving of
 * requests, deaths and runs produced two copies of it. The runs of the property test hit these
 * orders by chance; here each is forced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../functions/app/app.js'
import { Db, type Item, type Key } from '../functions/store/db.js'
import { keys } from '../functions/store/keys.js'
import { eventBucket, usageEvents } from '../functions/store/usage/events.js'
import { CountingDb, CrashingDb } from './helpers/crashing-db.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { aggregate, createServiceKey, usageEvent } from './helpers/usage.js'

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let svc: string

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  svc = await createServiceKey(h)
})
afterAll(() => h.close())

const DAY = 86_400_000

/** The same table; the first batch write of event copies waits until `release` is called. */
class GateDb extends Db {
  reached!: Promise<void>
  private arrive!: () => void
  private open!: Promise<void>
  release!: () => void
  constructor(
    db: Db,
    private readonly gated: 'journal' | 'copies'
  ) {
    super(db.doc, db.tableName)
    this.reached = new Promise((resolve) => {
      this.arrive = resolve
    })
    this.open = new Promise((resolve) => {
      this.release = resolve
    })
  }
  override async put(item: Item, condition?: Parameters<Db['put']>[1]) {
    if (this.gated === 'journal' && (item.PK as string).startsWith('UJ#')) await this.wait()
    return super.put(item, condition)
  }
  override async batchWrite(puts: Item[], deletes: Key[] = [], concurrency = 1) {
    if (this.gated === 'copies' && puts.some((p) => (p.PK as string).startsWith('UEVC#'))) {
      await this.wait()
    }
    return super.batchWrite(puts, deletes, concurrency)
  }
  private async wait() {
    this.arrive()
    await this.open
  }
}

const appOver = (db: Db) => createApp({ db, clock: h.clock, operatorKey: h.operatorKey })

async function send(app: ReturnType<typeof createApp>, events: unknown[]) {
  const res = await app.request('/v1/usage/events', {
    method: 'POST',
    headers: { authorization: `Bearer ${svc}`, 'content-type': 'application/json' },
    body: JSON.stringify({ events }),
  })
  return {
    status: res.status,
    body: (await res.json()) as { accepted: number; duplicates: number },
  }
}

function events(prefix: string, n: number, extra: Record<string, unknown> = {}) {
  return Array.from({ length: n }, (_, i) =>
    usageEvent({
      id: `${prefix}${i}`,
      organization_id: org.id,
      workspace_id: org.defaultWorkspaceId,
      timestamp: h.clock.now().toISOString(),
      requests: 1,
      ...extra,
    })
  )
}

/** Requests counted by aggregation for the organization over the last 40 days. */
async function counted(): Promise<number> {
  const query = new URLSearchParams({
    starting_at: new Date(h.clock.now().getTime() - 40 * DAY).toISOString(),
    bucket_width: '1d',
    limit: '31',
  })
  let total = 0
  let page: string | undefined
  do {
    const res = await h.call(
      'GET',
      `/v1/usage?${query}${page ? `&page=${encodeURIComponent(page)}` : ''}`,
      { key: org.adminKey }
    )
    expect(res.status, res.text).toBe(200)
    for (const bucket of res.body.data) {
      for (const result of bucket.results) total += result.requests
    }
    page = res.body.next_page ?? undefined
  } while (page)
  return total
}

describe('two copies of an id', () => {
  it('a request that checked before the first copy existed, journalled after its slot was counted: the job drops it', async () => {
    const before = await counted()
    const batch = events('late-copy-', 30)
    const gate = new GateDb(h.db, 'journal')
    // The slow request checks its ids (none seen) and stops before journalling.
    const slow = send(appOver(gate), batch)
    await gate.reached
    const fast = await send(h.app, batch)
    expect(fast.body.accepted).toBe(30)
    await aggregate(h)
    expect(await counted()).toBe(before + 30)
    gate.release()
    // It journals and writes its own copies: it could not know (both answers say accepted).
    expect((await slow).body.accepted).toBe(30)
    const run = await aggregate(h)
    expect(run.duplicates_dropped).toBe(30)
    expect(await counted()).toBe(before + 30)
    expect((await send(h.app, batch)).body.duplicates).toBe(30)
  })

  it('a request that died between its slot and its copies: the job writes them, so a later retry is a duplicate', async () => {
    const before = await counted()
    const batch = events('died-', 40)
    const dying = new CrashingDb(h.db).crashAfter(1) // the slot, then nothing
    expect((await send(appOver(dying), batch)).status).toBe(500)
    expect(await usageEvents.stored(h.db, org.id, 'died-0', h.clock.now())).toEqual([])
    await aggregate(h)
    expect(await counted()).toBe(before + 40)
    const [copy] = await usageEvents.stored(h.db, org.id, 'died-0', h.clock.now())
    expect(copy?.workspace_id).toBe(org.defaultWorkspaceId)
    const retry = await send(h.app, batch)
    expect([retry.body.accepted, retry.body.duplicates]).toEqual([0, 40])
    await aggregate(h)
    expect(await counted()).toBe(before + 40)
  })

  it('a run between a request’s slot and its copies counts the slot once; the copies it finds later change nothing', async () => {
    const before = await counted()
    const batch = events('mid-run-', 25)
    const gate = new GateDb(h.db, 'copies')
    const pending = send(appOver(gate), batch)
    await gate.reached
    await aggregate(h)
    expect(await counted()).toBe(before + 25)
    gate.release()
    expect((await pending).body.accepted).toBe(25)
    // Both the job and the request wrote the copy naming that slot: one item, not two.
    expect(await usageEvents.stored(h.db, org.id, 'mid-run-3', h.clock.now())).toHaveLength(1)
    expect((await send(h.app, batch)).body.duplicates).toBe(25)
    await aggregate(h)
    expect(await counted()).toBe(before + 25)
  })
})

describe('the duplicate check', () => {
  it('finds seen ids that do not sort together with the batch, by one query each', async () => {
    // 600 ids already stored, then a batch mixing 100 of them with 100 new ones, in an order
    // whose ranges cover many stored copies of other ids.
    const stored = events('spread-', 600)
    for (let i = 0; i < stored.length; i += 200) {
      expect((await send(h.app, stored.slice(i, i + 200))).body.accepted).toBe(200)
    }
    const seen = stored.filter((_, i) => i % 6 === 0)
    const fresh = events('spread-new-', 100)
    const db = new CountingDb(h.db)
    const res = await send(appOver(db), [...fresh, ...seen])
    expect([res.body.accepted, res.body.duplicates]).toEqual([100, 100])
    const queries = db.reads.filter((call) => call.length === 1 && call[0]!.endsWith('|*'))
    // More than one query per bucket: some ids were read one by one.
    const buckets = new Set([...fresh, ...seen].map((e) => eventBucket(e.id as string)))
    expect(queries.length).toBeGreaterThan(buckets.size)
  })

  it('tells ids apart that are prefixes of one another or differ in their last character', async () => {
    const ids = ['p', 'p#', 'p#a', 'pa', 'p~', 'p!', 'q']
    const batch = ids.map((id) => ({ ...events('x', 1)[0], id }))
    expect((await send(h.app, batch.slice(0, 3))).body.accepted).toBe(3)
    const res = await send(h.app, batch)
    expect([res.body.accepted, res.body.duplicates]).toEqual([4, 3])
    const again = await send(h.app, batch)
    expect([again.body.accepted, again.body.duplicates]).toEqual([0, 7])
  })
})

/** A raw event as versions before copies stored it, for an event stamped `at`. */
function putOldRawEvent(db: Db, organizationId: string, id: string, at: Date) {
  return db.put({
    ...keys.usageEvent(organizationId, id),
    organization_id: organizationId,
    id,
    expires_at_epoch: Math.ceil((at.getTime() + 45 * DAY) / 1000),
  })
}

describe('tables written before copies', () => {
  it('finds raw events and counted markers of the old layout for events stamped before the switch', async () => {
    const other = await startHarness({ clock: h.clock })
    try {
      const o = await createOrg(other, 'Old layout')
      const key = await createServiceKey(other)
      const at = other.clock.now()
      // The table says events stamped before 10 minutes from now may be stored the old way.
      await other.db.put({
        ...keys.usageLayout,
        legacy_before: new Date(at.getTime() + 600_000).toISOString(),
      })
      const event = (id: string, timestamp: Date) =>
        usageEvent({
          id,
          organization_id: o.id,
          workspace_id: o.defaultWorkspaceId,
          timestamp: timestamp.toISOString(),
          requests: 1,
        })
      const expiry = Math.ceil((at.getTime() + 45 * DAY) / 1000)
      // "old-raw" was ingested by the old version; "old-counted" was counted by its job from a
      // slot now gone, after a request that died before its raw write.
      await putOldRawEvent(other.db, o.id, 'old-raw', at)
      await other.db.put({
        ...keys.usageCounted(o.id, 'old-counted'),
        organization_id: o.id,
        id: 'old-counted',
        slot: '3/01JOLDSLOT',
        expires_at_epoch: expiry,
      })
      const res = await other.call('POST', '/v1/usage/events', {
        key,
        body: {
          events: [
            event('old-raw', at),
            event('old-counted', at),
            event('new', new Date(at.getTime() + 240_000)),
          ],
        },
      })
      expect([res.body.accepted, res.body.duplicates]).toEqual([2, 1])
      const run = await aggregate(other)
      expect([run.events_aggregated, run.duplicates_dropped]).toEqual([1, 1])
    } finally {
      await other.close()
    }
  })

  it('a table an earlier version created gets its switch time at the first write of this one', async () => {
    const other = await startHarness({ clock: h.clock })
    try {
      const o = await createOrg(other, 'Upgraded')
      const key = await createServiceKey(other)
      // As on a table that existed before copies: no layout item, an old raw item.
      await other.db.delete(keys.usageLayout)
      const at = other.clock.now()
      await putOldRawEvent(other.db, o.id, 'before-upgrade', at)
      const res = await other.call('POST', '/v1/usage/events', {
        key,
        body: {
          events: ['before-upgrade', 'after-upgrade'].map((id) =>
            usageEvent({
              id,
              organization_id: o.id,
              workspace_id: o.defaultWorkspaceId,
              timestamp: at.toISOString(),
            })
          ),
        },
      })
      expect([res.body.accepted, res.body.duplicates]).toEqual([1, 1])
      const layout = await other.db.get(keys.usageLayout)
      expect(layout?.legacy_before).toBe(new Date(at.getTime() + 600_000).toISOString())
    } finally {
      await other.close()
    }
  })

  it('a table created by this version reads no old-layout item', async () => {
    const db = new CountingDb(h.db)
    const res = await send(
      appOver(db),
      events('no-legacy-', 5, {
        timestamp: new Date(h.clock.now().getTime() - 20 * DAY).toISOString(),
      })
    )
    expect(res.body.accepted).toBe(5)
    expect(db.reads.flat().some((key) => key.startsWith('UEV#'))).toBe(false)
  })
})
