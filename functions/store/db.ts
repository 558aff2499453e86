import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb'
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb'
import { toAttributeMap } from './attribute-values.js'
import type { IndexName } from './table-definition.js'

export type Item = Record<string, unknown>
export interface Key {
  PK: string
  SK: string
}

/** A condition or filter expression with its placeholders. */
export interface Expression {
  expression: string
  names?: Record<string, string>
  values?: Record<string, unknown>
}

export interface QueryInput {
  index?: IndexName
  /** The partition key value (of the index when `index` is set). */
  partition: string
  /** Sort-key condition; `prefix` uses begins_with, `between` is inclusive. */
  sort?: { prefix: string } | { between: [string, string] } | { equals: string }
  forward?: boolean
  limit?: number
  startKey?: Item
  filter?: Expression
  consistent?: boolean
}

export interface QueryPage {
  items: Item[]
  lastKey?: Item
}

export class ConditionFailedError extends Error {
  constructor() {
    super('condition failed')
  }
}

/**
 * The store throttled the call or could not answer it (after the SDK's own retries): the
 * request may be retried as a whole. The API answers it with 503 and `Retry-After`.
 */
export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    // The cause's name and message go into logs (and a failed job's error); the API says less.
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)
    super(`the data store is throttling or unavailable (${detail})`, { cause })
  }
}

/** DynamoDB's throttling errors, its 5xx, and timeouts or lost connections on the way to it. */
const UNAVAILABLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ThrottlingException',
  'LimitExceededException',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
])
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN'])

function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const detail = error as Error & { $fault?: string; code?: string }
  return (
    UNAVAILABLE_NAMES.has(error.name) ||
    detail.$fault === 'server' ||
    (detail.code !== undefined && NETWORK_CODES.has(detail.code))
  )
}

/**
 * Thin adapter over the DynamoDB document client for the single table. It knows operations,
 * not entities: the key builders and item shapes live in the repository modules next to it.
 * Only operations dynalite also supports are used (no transactions, no PartiQL).
 */
export class Db {
  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly tableName: string
  ) {}

  /** The Db whose process-local caches this one shares: itself, or for a wrapper the wrapped. */
  get cacheIdentity(): Db {
    return this
  }

  async get(key: Key, consistent = true): Promise<Item | undefined> {
    const out = await this.guard(() =>
      this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: consistent })
      )
    )
    return out.Item
  }

  /** Writes an item; with `condition`, throws ConditionFailedError when it does not hold. */
  async put(item: Item, condition?: Expression): Promise<void> {
    await this.guard(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ...conditionParams(condition),
        })
      )
    )
  }

  /** Puts only if no item with this key exists. */
  async create(item: Item): Promise<void> {
    await this.put(item, { expression: 'attribute_not_exists(PK)' })
  }

  /**
   * `returnNew`: true returns the whole item after the update, 'updated' only the attributes the
   * update wrote (less for the store to send and the SDK to parse).
   */
  async update(
    key: Key,
    update: Expression,
    condition?: Expression,
    returnNew: boolean | 'updated' = false
  ): Promise<Item | undefined> {
    const merged = mergeExpressions(update, condition)
    const out = await this.guard(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: update.expression,
          ...(condition ? { ConditionExpression: condition.expression } : {}),
          ...(merged.names ? { ExpressionAttributeNames: merged.names } : {}),
          ...(merged.values ? { ExpressionAttributeValues: merged.values } : {}),
          ...(returnNew
            ? {
                ReturnValues:
                  returnNew === 'updated' ? ('UPDATED_NEW' as const) : ('ALL_NEW' as const),
              }
            : {}),
        })
      )
    )
    return out.Attributes
  }

  async delete(key: Key, condition?: Expression): Promise<void> {
    await this.guard(() =>
      this.doc.send(
        new DeleteCommand({ TableName: this.tableName, Key: key, ...conditionParams(condition) })
      )
    )
  }

  async query(input: QueryInput): Promise<QueryPage> {
    const index = input.index
    const pkName = index ? `${index}PK` : 'PK'
    const skName = index ? `${index}SK` : 'SK'
    const names: Record<string, string> = { '#pk': pkName, ...input.filter?.names }
    const values: Record<string, unknown> = { ':pk': input.partition, ...input.filter?.values }
    let keyCondition = '#pk = :pk'
    if (input.sort) {
      names['#sk'] = skName
      if ('prefix' in input.sort) {
        keyCondition += ' AND begins_with(#sk, :skp)'
        values[':skp'] = input.sort.prefix
      } else if ('between' in input.sort) {
        keyCondition += ' AND #sk BETWEEN :sk1 AND :sk2'
        values[':sk1'] = input.sort.between[0]
        values[':sk2'] = input.sort.between[1]
      } else {
        keyCondition += ' AND #sk = :ske'
        values[':ske'] = input.sort.equals
      }
    }
    const out = await this.guard(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          ...(index ? { IndexName: index } : { ConsistentRead: input.consistent ?? true }),
          KeyConditionExpression: keyCondition,
          ...(input.filter ? { FilterExpression: input.filter.expression } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: input.forward ?? true,
          ...(input.limit ? { Limit: input.limit } : {}),
          ...(input.startKey ? { ExclusiveStartKey: input.startKey } : {}),
        })
      )
    )
    return {
      items: out.Items ?? [],
      ...(out.LastEvaluatedKey ? { lastKey: out.LastEvaluatedKey } : {}),
    }
  }

  /**
   * Every item of a query, following pages, or the first `max` of them. Only for bounded
   * collections.
   */
  async queryAll(
    input: Omit<QueryInput, 'startKey' | 'limit'>,
    max = Number.POSITIVE_INFINITY
  ): Promise<Item[]> {
    const items: Item[] = []
    let startKey: Item | undefined
    do {
      const page = await this.query({ ...input, ...(startKey ? { startKey } : {}) })
      items.push(...page.items)
      startKey = page.lastKey
    } while (startKey && items.length < max)
    return items.slice(0, max)
  }

  /**
   * Writes any number of puts/deletes in chunks of 25, `concurrency` chunks at a time,
   * retrying unprocessed items. Unconditional: only for items whose last write may win.
   */
  async batchWrite(puts: Item[], deletes: Key[] = [], concurrency = 1): Promise<void> {
    // Marshalled here, not by the document client: the same attribute values for less CPU
    // (attribute-values.ts); what the store leaves unprocessed comes back marshalled.
    const requests: WriteRequest[] = [
      ...puts.map((item) => ({ PutRequest: { Item: toAttributeMap(item) } })),
      ...deletes.map((key) => ({ DeleteRequest: { Key: toAttributeMap({ ...key }) } })),
    ]
    const chunks: (typeof requests)[] = []
    for (let i = 0; i < requests.length; i += 25) chunks.push(requests.slice(i, i + 25))
    await forEachConcurrently(chunks, concurrency, async (chunk) => {
      let pending = chunk
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 8) {
          throw new StoreUnavailableError('BatchWriteItem left items unprocessed after retries')
        }
        if (attempt > 0) await sleep(2 ** attempt * 10)
        const out = await this.guard(() =>
          this.doc.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: pending } }))
        )
        pending = out.UnprocessedItems?.[this.tableName] ?? []
      }
    })
  }

  /**
   * Reads items by key (any number, chunks of 100, `concurrency` at a time), strongly
   * consistent; order not kept. `attributes` limits what is returned (keys are always kept).
   */
  async batchGet(
    keys: Key[],
    options: { attributes?: string[]; concurrency?: number } = {}
  ): Promise<Item[]> {
    const projection = options.attributes
      ? {
          ProjectionExpression: ['PK', 'SK', ...options.attributes]
            .map((_, i) => `#p${i}`)
            .join(', '),
          ExpressionAttributeNames: Object.fromEntries(
            ['PK', 'SK', ...options.attributes].map((name, i) => [`#p${i}`, name])
          ),
        }
      : {}
    const chunks: Key[][] = []
    for (let i = 0; i < keys.length; i += 100) chunks.push(keys.slice(i, i + 100))
    const found: Item[] = []
    await forEachConcurrently(chunks, options.concurrency ?? 1, async (chunk) => {
      let pending: Key[] = chunk
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 8) {
          throw new StoreUnavailableError('BatchGetItem left keys unprocessed after retries')
        }
        if (attempt > 0) await sleep(2 ** attempt * 10)
        const out = await this.guard(() =>
          this.doc.send(
            new BatchGetCommand({
              RequestItems: {
                [this.tableName]: { Keys: pending, ConsistentRead: true, ...projection },
              },
            })
          )
        )
        found.push(...(out.Responses?.[this.tableName] ?? []))
        pending = (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Key[]
      }
    })
    return found
  }

  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new ConditionFailedError()
      if (isUnavailable(error)) throw new StoreUnavailableError(error)
      throw error
    }
  }
}

function conditionParams(condition?: Expression) {
  if (!condition) return {}
  return {
    ConditionExpression: condition.expression,
    ...(condition.names ? { ExpressionAttributeNames: condition.names } : {}),
    ...(condition.values ? { ExpressionAttributeValues: condition.values } : {}),
  }
}

function mergeExpressions(a: Expression, b?: Expression): Pick<Expression, 'names' | 'values'> {
  const names = { ...a.names, ...b?.names }
  const values = { ...a.values, ...b?.values }
  return {
    ...(Object.keys(names).length ? { names } : {}),
    ...(Object.keys(values).length ? { values } : {}),
  }
}

/** Runs `task` over `items` with at most `concurrency` in flight; rejects on the first failure. */
export async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<void>
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!
      await task(item)
    }
  }
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker)
  )
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Removes the table's key and index attributes, leaving the record's own fields. */
export function stripKeys<T>(item: Item): T {
  const { PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK, expires_at_epoch, ...rest } = item
  return rest as T
}
