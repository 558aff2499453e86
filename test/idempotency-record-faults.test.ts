import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, listAll } from './helpers/admin-model.js'
import { FaultyDb } from './helpers/faults.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/**
 * The create is made before its Idempotency-Key record is completed. A failure to complete the
 * record must neither make the client believe the create failed (a 500 invites the retry that
 * creates twice) nor leave a retry free to create again: it is tried again, and if the store
 * still refuses, the created resource is answered and a retry meanwhile gets 409.
 */
let h: Harness
let db: FaultyDb
let api: Caller
let adminKey: string

beforeAll(async () => {
  h = await startHarness({
    makeDb: (doc, table) => {
      db = new FaultyDb(doc, table)
      return db
    },
  })
  const org = await createOrg(h)
  adminKey = org.adminKey
  api = as(h, adminKey)
})
afterAll(() => h.close())

const create = (name: string, idempotencyKey: string) =>
  h.call('POST', '/v1/workspaces', {
    key: adminKey,
    body: { name },
    headers: { 'idempotency-key': idempotencyKey },
  })

const named = async (name: string) =>
  (await listAll(api, '/v1/workspaces')).filter((w) => w.name === name)

describe('Idempotency-Key when its record cannot be completed at once', () => {
  it('a store unavailable twice for the completion: it is tried again, completed, and a retry replays', async () => {
    db.arm({ op: 'update', sk: /^IDEM$/, times: 2, unavailable: true })
    const first = await create('Twice-failed record', 'idem-fault-1')
    expect(first.status, first.text).toBe(201)
    expect(db.pending()).toBe(0)
    const retry = await create('Twice-failed record', 'idem-fault-1')
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(retry.body.id).toBe(first.body.id)
    expect(await named('Twice-failed record')).toHaveLength(1)
  })

  it('a store that stays unavailable for it: the create is still answered 201, and a retry gets 409, not a second workspace', async () => {
    db.arm({ op: 'update', sk: /^IDEM$/, times: 10, unavailable: true })
    const first = await create('Never-recorded', 'idem-fault-2')
    expect(first.status, first.text).toBe(201)
    db.disarm()
    const retry = await create('Never-recorded', 'idem-fault-2')
    expect(retry.status).toBe(409)
    expect(await named('Never-recorded')).toHaveLength(1)
  })
})
