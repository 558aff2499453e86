/**
 * The usage bench's capacity units come from the store's request log (bench/store-request-log.ts),
 * so its rules are checked here against DynamoDB's: writes by started KB, reads by started 4 KB
 * (half when eventually consistent), and a projection does not make an item cheaper to read.
 */
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type StoreRequestLog, startStoreRequestLog } from '../bench/store-request-log.js'
import { createDocumentClient, ensureTable } from '../functions/store/client.js'
import { type EmbeddedStore, startEmbeddedStore } from '../functions/store/embedded.js'

const TABLE = 'request-log'
let store: EmbeddedStore
let log: StoreRequestLog
let doc: ReturnType<typeof createDocumentClient>

beforeAll(async () => {
  store = await startEmbeddedStore()
  log = await startStoreRequestLog(store.endpoint)
  doc = createDocumentClient({ endpoint: log.endpoint })
  await ensureTable(doc, TABLE)
})

afterAll(async () => {
  doc.destroy()
  await log.close()
  await store.close()
})

/** The units of the requests logged while `run` ran. */
async function unitsOf(run: () => Promise<unknown>) {
  const before = log.requests.length
  await run()
  const logged = log.requests.slice(before)
  return {
    write: logged.reduce((sum, r) => sum + r.writeUnits, 0),
    read: logged.reduce((sum, r) => sum + r.readUnits, 0),
  }
}

// 9,000 bytes of payload: 9 write units, 3 read units strongly consistent (1.5 eventually).
const big = { PK: 'P#1', SK: 'S#1', small: 'x', payload: 'y'.repeat(9000) }
const key = { PK: big.PK, SK: big.SK }

describe('the store request log', () => {
  beforeEach(async () => {
    await doc.send(new PutCommand({ TableName: TABLE, Item: big }))
  })

  it('charges a write by started KB of the item, and an update by the larger of before and after', async () => {
    expect(
      (await unitsOf(() => doc.send(new PutCommand({ TableName: TABLE, Item: big })))).write
    ).toBe(9)
    const update = await unitsOf(() =>
      doc.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: key,
          UpdateExpression: 'SET small = :s',
          ExpressionAttributeValues: { ':s': 'z' },
        })
      )
    )
    expect(update.write).toBe(9)
  })

  it('charges a read by started 4 KB, half of it eventually consistent', async () => {
    const get = (consistent: boolean) =>
      unitsOf(() =>
        doc.send(new GetCommand({ TableName: TABLE, Key: key, ConsistentRead: consistent }))
      )
    expect((await get(true)).read).toBe(3)
    expect((await get(false)).read).toBe(1.5)
  })

  it('charges the whole item when a projection returns only part of it', async () => {
    const projected = { ProjectionExpression: '#s', ExpressionAttributeNames: { '#s': 'small' } }
    const get = await unitsOf(() =>
      doc.send(new GetCommand({ TableName: TABLE, Key: key, ConsistentRead: true, ...projected }))
    )
    const batch = await unitsOf(() =>
      doc.send(
        new BatchGetCommand({
          RequestItems: {
            [TABLE]: {
              Keys: [key],
              ConsistentRead: true,
              ProjectionExpression: 'PK, SK, #s',
              ExpressionAttributeNames: { '#s': 'small' },
            },
          },
        })
      )
    )
    const query = await unitsOf(() =>
      doc.send(
        new QueryCommand({
          TableName: TABLE,
          KeyConditionExpression: 'PK = :p',
          ExpressionAttributeValues: { ':p': big.PK },
          ConsistentRead: true,
          ProjectionExpression: 'PK, SK, #s',
          ExpressionAttributeNames: { '#s': 'small' },
        })
      )
    )
    expect([get.read, batch.read, query.read]).toEqual([3, 3, 3])
  })

  it('charges the minimum for an item that does not exist', async () => {
    const missing = await unitsOf(() =>
      doc.send(
        new BatchGetCommand({
          RequestItems: {
            [TABLE]: { Keys: [{ PK: 'P#none', SK: 'S#none' }], ConsistentRead: true },
          },
        })
      )
    )
    expect(missing.read).toBe(1)
  })
})
