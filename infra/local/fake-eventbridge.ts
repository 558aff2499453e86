import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One entry of a PutEvents request, as the SDK sends it (JSON 1.1: `Time` in epoch seconds). */
export interface PutEventsEntry {
  EventBusName?: string
  Source?: string
  DetailType?: string
  Detail?: string
  Time?: number
  Resources?: string[]
}

export interface FakeEventBridge {
  /** For AWS_ENDPOINT_URL_EVENTBRIDGE. */
  endpoint: string
  /** Every entry the bus accepted, in order. */
  accepted: PutEventsEntry[]
  /** Every entry it refused (see `refuseNext`), in order. */
  refused: PutEventsEntry[]
  /**
   * Refuses the next `count` entries the way EventBridge does: HTTP 200 with FailedEntryCount
   * and an ErrorCode on the entry (not an HTTP error the SDK would retry).
   */
  refuseNext(count: number): void
  close(): Promise<void>
}

/**
 * A local stand-in for the EventBridge API (JSON 1.1 protocol, PutEvents only), so the
 * functions' real SDK call publishing budget alerts can be exercised without AWS.
 */
export async function startFakeEventBridge(): Promise<FakeEventBridge> {
  const accepted: PutEventsEntry[] = []
  const refused: PutEventsEntry[] = []
  let toRefuse = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' })
        res.end(JSON.stringify(body))
      }
      const target = req.headers['x-amz-target']
      if (req.method !== 'POST' || target !== 'AWSEvents.PutEvents') {
        return reply(400, { __type: 'ValidationException', message: `unsupported ${target}` })
      }
      const { Entries = [] } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        Entries?: PutEventsEntry[]
      }
      if (Entries.length < 1 || Entries.length > 10) {
        return reply(400, {
          __type: 'ValidationException',
          message: 'Entries must hold 1 to 10 entries',
        })
      }
      const results = Entries.map((entry) => {
        if (toRefuse > 0) {
          toRefuse--
          refused.push(entry)
          return { ErrorCode: 'InternalFailure', ErrorMessage: 'Refused by the local test bus' }
        }
        accepted.push(entry)
        return { EventId: randomUUID() }
      })
      reply(200, {
        FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length,
        Entries: results,
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accepted,
    refused,
    refuseNext: (count) => {
      toRefuse = count
    },
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve()))
      )
    },
  }
}
