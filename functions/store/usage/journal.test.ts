import { describe, expect, it } from 'vitest'
import type { UsageEvent } from '../../model/index.js'
import { journalSlots, storedEventsJson, USAGE_JOURNAL_SHARDS } from './journal.js'

const journalSlotItems = (...args: Parameters<typeof journalSlots>) =>
  journalSlots(...args).map((slot) => slot.item)

const event = (i: number, model = 'claude-sonnet-4'): UsageEvent => ({
  id: `evt_${i}`,
  organization_id: 'org_a',
  workspace_id: 'ws_a',
  timestamp: '2026-11-27T13:45:10.000Z',
  product: 'chat',
  model,
  api_key_id: null,
  member_id: 'mem_a',
  input_tokens: i,
  output_tokens: 2,
  requests: 1,
  cost_micros: 9,
})

const now = new Date('2026-11-27T13:46:00.000Z')
let ids = 0
const newSlotId = () => `slot_${String(++ids).padStart(4, '0')}`

describe('journalSlots', () => {
  it('puts at most 500 events in a slot, in order, each slot in one of the shards', () => {
    const events = Array.from({ length: 1_200 }, (_, i) => event(i))
    const items = journalSlotItems(events, now, newSlotId)
    expect(items.map((item) => item.event_count)).toEqual([500, 500, 200])
    const stored = items.flatMap((item) => JSON.parse(storedEventsJson(item)) as unknown[][])
    // Tuples in the documented field order: id first, cost last.
    expect(stored.map((tuple) => tuple[0])).toEqual(events.map((e) => e.id))
    expect(stored[7]).toEqual([
      'evt_7',
      'org_a',
      'ws_a',
      '2026-11-27T13:45:10.000Z',
      'chat',
      'claude-sonnet-4',
      null,
      'mem_a',
      7,
      2,
      1,
      9,
    ])
    for (const item of items) {
      expect(item.shard).toBeGreaterThanOrEqual(0)
      expect(item.shard).toBeLessThan(USAGE_JOURNAL_SHARDS)
      expect(item.PK).toBe(`UJ#${item.shard}`)
      expect(item.created_at).toBe(now.toISOString())
    }
    expect(new Set(items.map((item) => item.slot_id)).size).toBe(3)
  })

  it('starts a new slot before one would pass 300 KB, whatever the events weigh', () => {
    const heavy = Array.from({ length: 100 }, (_, i) => event(i, `m${'x'.repeat(9_000)}`))
    const items = journalSlotItems(heavy, now, newSlotId)
    expect(items.length).toBeGreaterThan(1)
    for (const item of items) expect(storedEventsJson(item).length).toBeLessThanOrEqual(300_000)
    expect(items.reduce((sum, item) => sum + (item.event_count as number), 0)).toBe(100)
  })

  it('stores the tuples deflated, several times smaller than their JSON; older JSON slots still read', () => {
    const events = Array.from({ length: 500 }, (_, i) => event(i, i % 3 ? 'claude-sonnet-4' : 'x'))
    const [item] = journalSlotItems(events, now, newSlotId)
    const json = storedEventsJson(item!)
    expect((item!.events_z as Uint8Array).byteLength * 4).toBeLessThan(Buffer.byteLength(json))
    expect(item!.events).toBeUndefined()
    // A slot written before compression: the same tuples as JSON text in `events`.
    expect(storedEventsJson({ PK: 'UJ#0', SK: 'S#old', events: json })).toBe(json)
  })

  it('writes nothing for no events', () => {
    expect(journalSlotItems([], now, newSlotId)).toEqual([])
  })
})
