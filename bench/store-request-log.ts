/**
 * The store's own request log, for counting DynamoDB capacity units: an HTTP front for the
 * embedded store that forwards every request unchanged and records the operation, its input
 * and the store's answer. dynalite reports no consumed capacity, so the units are computed
 * from item sizes by DynamoDB's published rules (on-demand / provisioned alike):
 * - writes: 1 write unit per started KB of the item written (PutItem, each item of
 *   BatchWriteItem), for UpdateItem and overwrites the larger of the item before and after, for
 *   deletes the size of the item deleted, at least 1 unit each (a failed condition too);
 * - reads: 1 read unit per started 4 KB strongly consistent (half eventually consistent):
 *   per item for GetItem and BatchGetItem (an item that does not exist still costs the
 *   minimum), and per page of the total size read for Query and Scan; a projection does not
 *   make an item cheaper to read (DynamoDB charges the whole item), so a read counts the size
 *   the log saw the item written with;
 * - item size: attribute names plus values (strings in UTF-8 bytes, numbers 1 byte per two
 *   significant digits plus 1, booleans and null 1, lists and maps 3 bytes plus 1 per element).
 * Sizes of items before a write come from the log itself (every item the bench touches was
 * written through it); after an UpdateItem the item is read back directly (not logged).
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'

type AttributeValue = Record<string, unknown>
type ItemJson = Record<string, AttributeValue>

export interface LoggedRequest {
  operation: string
  /** Set by the bench to attribute requests to a phase. */
  phase: string
  writeUnits: number
  readUnits: number
}

const KEY_ATTRIBUTES = ['PK', 'SK']

function numberSize(text: string): number {
  const digits = text
    .replace(/^-/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
  const significant = digits.replace(/^0+/, '').replace(/0+$/, '') || '0'
  return Math.ceil(significant.length / 2) + 1
}

function valueSize(value: AttributeValue): number {
  const [type, inner] = Object.entries(value)[0]!
  switch (type) {
    case 'S':
      return Buffer.byteLength(inner as string)
    case 'N':
      return numberSize(inner as string)
    case 'B':
      return Buffer.from(inner as string, 'base64').length
    case 'BOOL':
    case 'NULL':
      return 1
    case 'SS':
      return (inner as string[]).reduce((sum, s) => sum + Buffer.byteLength(s), 0)
    case 'NS':
      return (inner as string[]).reduce((sum, n) => sum + numberSize(n), 0)
    case 'BS':
      return (inner as string[]).reduce((sum, b) => sum + Buffer.from(b, 'base64').length, 0)
    case 'L':
      return 3 + (inner as AttributeValue[]).reduce((sum, v) => sum + 1 + valueSize(v), 0)
    case 'M':
      return (
        3 +
        Object.entries(inner as ItemJson).reduce(
          (sum, [name, v]) => sum + 1 + Buffer.byteLength(name) + valueSize(v),
          0
        )
      )
    default:
      throw new Error(`unknown attribute type ${type}`)
  }
}

/** DynamoDB's size of an item in its JSON wire form. */
export function itemSize(item: ItemJson): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + valueSize(value),
    0
  )
}

const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024))
const readUnits = (bytes: number, consistent: boolean) =>
  Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5)

function keyOf(table: string, item: ItemJson): string {
  return JSON.stringify([table, ...KEY_ATTRIBUTES.map((name) => item[name])])
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export interface StoreRequestLog {
  endpoint: string
  requests: LoggedRequest[]
  /** Requests logged from now on are attributed to `phase`. */
  setPhase(phase: string): void
  /** Write and read units per phase. */
  totals(): Map<string, { writeUnits: number; readUnits: number; requests: number }>
  close(): Promise<void>
}

export async function startStoreRequestLog(target: string): Promise<StoreRequestLog> {
  const sizes = new Map<string, number>()
  const requests: LoggedRequest[] = []
  let phase = ''
  const forward = (operation: string, payload: string, headers: Record<string, string>) =>
    fetch(target, {
      method: 'POST',
      headers: { ...headers, 'x-amz-target': `DynamoDB_20120810.${operation}` },
      body: payload,
    })

  const account = async (
    operation: string,
    input: Record<string, unknown>,
    output: Record<string, unknown>,
    ok: boolean,
    headers: Record<string, string>
  ): Promise<{ writeUnits: number; readUnits: number }> => {
    const table = input.TableName as string
    const consistent = input.ConsistentRead === true
    const old = (t: string, key: ItemJson) => sizes.get(keyOf(t, key)) ?? 0
    // A read costs the whole item's size even when a projection returns less of it: the size
    // the log saw written when it knows it, else what came back. (BatchGetItem and Query items
    // are matched by their keys, so a projection that leaves the keys out counts what came back.)
    const read = (t: string, item: ItemJson) => Math.max(itemSize(item), old(t, item))
    switch (operation) {
      case 'PutItem': {
        const item = input.Item as ItemJson
        const units = writeUnits(Math.max(itemSize(item), old(table, item)))
        if (ok) sizes.set(keyOf(table, item), itemSize(item))
        return { writeUnits: units, readUnits: 0 }
      }
      case 'DeleteItem': {
        const key = input.Key as ItemJson
        const units = writeUnits(old(table, key))
        if (ok) sizes.delete(keyOf(table, key))
        return { writeUnits: units, readUnits: 0 }
      }
      case 'UpdateItem': {
        const key = input.Key as ItemJson
        const before = old(table, key)
        let after = before
        if (ok) {
          // The new size: read the item back straight from the store (not logged).
          const answer = await forward(
            'GetItem',
            JSON.stringify({ TableName: table, Key: key, ConsistentRead: true }),
            headers
          )
          const item = ((await answer.json()) as { Item?: ItemJson }).Item
          after = item ? itemSize(item) : 0
          if (item) sizes.set(keyOf(table, key), after)
        }
        return { writeUnits: writeUnits(Math.max(before, after)), readUnits: 0 }
      }
      case 'BatchWriteItem': {
        let units = 0
        for (const [t, writes] of Object.entries(
          input.RequestItems as Record<
            string,
            Record<string, { Item?: ItemJson; Key?: ItemJson }>[]
          >
        )) {
          for (const write of writes) {
            if (write.PutRequest?.Item) {
              const item = write.PutRequest.Item
              units += writeUnits(Math.max(itemSize(item), old(t, item)))
              sizes.set(keyOf(t, item), itemSize(item))
            } else if (write.DeleteRequest?.Key) {
              units += writeUnits(old(t, write.DeleteRequest.Key))
              sizes.delete(keyOf(t, write.DeleteRequest.Key))
            }
          }
        }
        return { writeUnits: units, readUnits: 0 }
      }
      case 'GetItem': {
        const item = output.Item as ItemJson | undefined
        const size = item ? Math.max(itemSize(item), old(table, input.Key as ItemJson)) : 0
        return { writeUnits: 0, readUnits: readUnits(size, consistent) }
      }
      case 'BatchGetItem': {
        let units = 0
        const found = (output.Responses ?? {}) as Record<string, ItemJson[]>
        for (const [t, request] of Object.entries(
          input.RequestItems as Record<string, { Keys: ItemJson[]; ConsistentRead?: boolean }>
        )) {
          const bySize = new Map((found[t] ?? []).map((item) => [keyOf(t, item), read(t, item)]))
          for (const key of request.Keys) {
            units += readUnits(bySize.get(keyOf(t, key)) ?? 0, request.ConsistentRead === true)
          }
        }
        return { writeUnits: 0, readUnits: units }
      }
      case 'Query':
      case 'Scan': {
        const items = (output.Items ?? []) as ItemJson[]
        const bytes = items.reduce((sum, item) => sum + read(table, item), 0)
        const scanned = output.ScannedCount as number | undefined
        if (scanned !== undefined && scanned > items.length) {
          throw new Error(`${operation} filtered items: their sizes are unknown to the log`)
        }
        return { writeUnits: 0, readUnits: readUnits(bytes, consistent) }
      }
      default:
        return { writeUnits: 0, readUnits: 0 }
    }
  }

  const server = createServer(async (request, response) => {
    try {
      const payload = await body(request)
      const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? ''
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(request.headers)) {
        if (typeof value === 'string' && name !== 'host' && name !== 'content-length') {
          headers[name] = value
        }
      }
      const answer = await forward(operation, payload, headers)
      const text = await answer.text()
      const input = JSON.parse(payload) as Record<string, unknown>
      const output = text ? (JSON.parse(text) as Record<string, unknown>) : {}
      const units = await account(operation, input, output, answer.ok, headers)
      requests.push({ operation, phase, ...units })
      response.writeHead(answer.status, {
        'content-type': answer.headers.get('content-type') ?? 'application/x-amz-json-1.0',
        ...(answer.headers.get('x-amzn-requestid')
          ? { 'x-amzn-requestid': answer.headers.get('x-amzn-requestid')! }
          : {}),
      })
      response.end(text)
    } catch (error) {
      response.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' })
      response.end(JSON.stringify({ __type: 'InternalServerError', message: String(error) }))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    setPhase: (next) => {
      phase = next
    },
    totals: () => {
      const totals = new Map<string, { writeUnits: number; readUnits: number; requests: number }>()
      for (const entry of requests) {
        const total = totals.get(entry.phase) ?? { writeUnits: 0, readUnits: 0, requests: 0 }
        total.writeUnits += entry.writeUnits
        total.readUnits += entry.readUnits
        total.requests++
        totals.set(entry.phase, total)
      }
      return totals
    },
    close: () =>
      new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve()))
      ),
  }
}
