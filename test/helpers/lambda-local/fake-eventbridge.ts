import { randomUUID } from 'node:crypto'
import { awsError, startAwsJsonEndpoint } from './aws-json-endpoint.js'

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
  const server = await startAwsJsonEndpoint((target, body) => {
    if (target !== 'AWSEvents.PutEvents') {
      return awsError('ValidationException', `unsupported ${target}`)
    }
    const entries = (body.Entries ?? []) as PutEventsEntry[]
    if (entries.length < 1 || entries.length > 10) {
      return awsError('ValidationException', 'Entries must hold 1 to 10 entries')
    }
    const results = entries.map((entry) => {
      if (toRefuse > 0) {
        toRefuse--
        refused.push(entry)
        return { ErrorCode: 'InternalFailure', ErrorMessage: 'Refused by the local test bus' }
      }
      accepted.push(entry)
      return { EventId: randomUUID() }
    })
    return {
      status: 200,
      body: {
        FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length,
        Entries: results,
      },
    }
  })
  return {
    ...server,
    accepted,
    refused,
    refuseNext: (count) => {
      toRefuse = count
    },
  }
}
