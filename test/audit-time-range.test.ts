import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/** The audit log's time filters, including a range that holds nothing. */
let h: Harness
let api: Caller

beforeAll(async () => {
  h = await startHarness()
  api = as(h, (await createOrg(h)).adminKey)
  await api.create('/v1/workspaces', { name: 'Audited' })
})
afterAll(() => h.close())

describe('GET /v1/audit-events with after_time and before_time', () => {
  it('answers an empty page, not a server error, when the range is empty or reversed', async () => {
    const at = h.clock.now().toISOString()
    const later = new Date(h.clock.now().getTime() + 60_000).toISOString()
    for (const [after, before] of [
      [at, at],
      [later, at],
    ]) {
      const res = await api.get(`/v1/audit-events?after_time=${after}&before_time=${before}`)
      expect(res.status, res.text).toBe(200)
      expect(res.body).toMatchObject({ data: [], has_more: false, next_cursor: null })
    }
  })

  it('still finds the events inside a range', async () => {
    const from = new Date(h.clock.now().getTime() - 60_000).toISOString()
    const to = new Date(h.clock.now().getTime() + 60_000).toISOString()
    const res = await api.get(`/v1/audit-events?after_time=${from}&before_time=${to}`)
    expect(res.status, res.text).toBe(200)
    expect(res.body.data.map((e: { event_type: string }) => e.event_type)).toContain(
      'workspace.created'
    )
  })
})
