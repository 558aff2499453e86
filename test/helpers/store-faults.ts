import {
  BatchWriteItemCommand,
  InternalServerError,
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
} from '@aws-sdk/client-dynamodb'
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb'

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

export type FaultKind = 'throttled' | 'server_error' | 'timeout' | 'timeout_after_write'

const meta = { $metadata: {} }

/** The errors the AWS SDK raises once its own retries are spent, as DynamoDB sends them. */
function injectedError(kind: FaultKind, random: () => number): Error {
  switch (kind) {
    case 'throttled': {
      const pick = random()
      if (pick < 0.4) {
        return new ProvisionedThroughputExceededException({ message: 'injected', ...meta })
      }
      if (pick < 0.7) return new RequestLimitExceeded({ message: 'injected', ...meta })
      return Object.assign(new Error('Rate exceeded (injected)'), {
        name: 'ThrottlingException',
        $fault: 'client',
        ...meta,
      })
    }
    case 'server_error':
      return new InternalServerError({ message: 'injected', ...meta })
    case 'timeout':
    case 'timeout_after_write':
      // What @smithy/node-http-handler throws when the socket times out.
      return Object.assign(new Error('Connection timed out (injected)'), { name: 'TimeoutError' })
  }
}

const isWrite = (command: unknown) =>
  command instanceof PutCommand ||
  command instanceof UpdateCommand ||
  command instanceof DeleteCommand ||
  command instanceof BatchWriteItemCommand

/**
 * Fails a share of the DynamoDB calls made through the document clients it wraps, below the
 * Db (so every repository and the Db's own error handling are on the path). A failure is a
 * throttling error, a 5xx, or a timeout — before the call reaches the store, or, for writes,
 * after it was applied (the response is lost: the nastiest case for a retry).
 */
export class StoreFaults {
  enabled = false
  /** When set, only the commands it accepts may fail. */
  only: ((command: unknown) => boolean) | undefined
  readonly injected: Record<FaultKind, number> = {
    throttled: 0,
    server_error: 0,
    timeout: 0,
    timeout_after_write: 0,
  }
  calls = 0

  constructor(
    private readonly random: () => number,
    public rate: number
  ) {}

  wrap(doc: DynamoDBDocumentClient): DynamoDBDocumentClient {
    const send = doc.send.bind(doc) as (command: unknown) => Promise<unknown>
    const faulty = async (command: unknown) => {
      if (!this.enabled || (this.only && !this.only(command))) return send(command)
      this.calls++
      if (this.random() >= this.rate) return send(command)
      const roll = this.random()
      const kind: FaultKind =
        roll < 0.35
          ? 'throttled'
          : roll < 0.55
            ? 'server_error'
            : roll < 0.75 || !isWrite(command)
              ? 'timeout'
              : 'timeout_after_write'
      this.injected[kind]++
      if (kind === 'timeout_after_write') await send(command)
      throw injectedError(kind, this.random)
    }
    return new Proxy(doc, {
      get: (target, property, receiver) =>
        property === 'send' ? faulty : Reflect.get(target, property, receiver),
    })
  }
}
