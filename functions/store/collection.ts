import {
  ConditionFailedError,
  type Db,
  type Expression,
  type Item,
  type Key,
  stripKeys,
} from './db.js'
import { type Page, type PageRequest, paginate } from './pagination.js'

/** Records kept by a collection: an id, and a version when they are mutable. */
export interface StoredRecord {
  id: string
  version?: number
}

/**
 * A collection of records that live in one partition with a common sort-key prefix (e.g. the
 * workspaces of an organization under `ORG#o` / `WS#…`). It gives create/get/list/save/remove
 * with optimistic locking on `version`. `internal` fields are stored on the item but never
 * returned in the record (e.g. a secret's hash).
 */
export class Collection<T extends StoredRecord, Internal extends Item = Item> {
  constructor(
    readonly name: string,
    private readonly keyOf: (scope: string, id: string) => Key,
    private readonly partitionOf: (scope: string) => string,
    private readonly prefix: string,
    private readonly internalFields: readonly (keyof Internal & string)[] = []
  ) {}

  key(scope: string, id: string): Key {
    return this.keyOf(scope, id)
  }

  /** Writes a new record; throws ConditionFailedError if the id is taken. */
  async create(
    db: Db,
    scope: string,
    record: T,
    extra: Partial<Internal> & Item = {}
  ): Promise<void> {
    await db.create({ ...this.keyOf(scope, record.id), ...extra, ...record })
  }

  /** Bulk load (BatchWriteItem, unconditional): for seeding; the ids must be new. */
  async putMany(db: Db, scope: string, records: T[]): Promise<void> {
    await db.batchWrite(
      records.map((record) => ({ ...this.keyOf(scope, record.id), ...(record as Item) })),
      [],
      4
    )
  }

  async get(db: Db, scope: string, id: string): Promise<T | undefined> {
    const item = await db.get(this.keyOf(scope, id))
    return item ? this.toRecord(item) : undefined
  }

  /** The record with its internal fields. */
  async getWithInternal(
    db: Db,
    scope: string,
    id: string
  ): Promise<{ record: T; internal: Internal } | undefined> {
    const item = await db.get(this.keyOf(scope, id))
    if (!item) return undefined
    return { record: this.toRecord(item), internal: item as Internal }
  }

  async list(
    db: Db,
    scope: string,
    page: PageRequest,
    options: { filter?: Expression; forward?: boolean; keep?: (record: T) => boolean } = {}
  ): Promise<Page<T>> {
    return paginate(
      db,
      `${this.name}:${scope}`,
      {
        partition: this.partitionOf(scope),
        sort: { prefix: this.prefix },
        ...(options.filter ? { filter: options.filter } : {}),
        forward: options.forward ?? true,
      },
      page,
      (item) => {
        const record = this.toRecord(item)
        return !options.keep || options.keep(record) ? record : undefined
      }
    )
  }

  /** Every record of the scope (bounded collections only). */
  async all(db: Db, scope: string): Promise<T[]> {
    const items = await db.queryAll({
      partition: this.partitionOf(scope),
      sort: { prefix: this.prefix },
    })
    return items.map((item) => this.toRecord(item))
  }

  /**
   * Updates a record if its stored version is still `expectedVersion`; the saved record gets
   * version + 1. Fields not in the record (internal ones, index keys) are kept unless given in
   * `extra`. Throws ConditionFailedError when the record is gone or someone else saved first.
   */
  async save(
    db: Db,
    scope: string,
    record: T & { version: number },
    expectedVersion: number,
    extra: Partial<Internal> & Item = {}
  ): Promise<T> {
    return saveVersioned(db, this.keyOf(scope, record.id), record, expectedVersion, extra)
  }

  /** Overwrites an existing record (for records without a version); fails if it is gone. */
  async replace(
    db: Db,
    scope: string,
    record: T,
    extra: Partial<Internal> & Item = {}
  ): Promise<void> {
    await db.put(
      { ...this.keyOf(scope, record.id), ...extra, ...record },
      { expression: 'attribute_exists(PK)' }
    )
  }

  async remove(db: Db, scope: string, id: string): Promise<void> {
    await db.delete(this.keyOf(scope, id))
  }

  toRecord(item: Item): T {
    const record = stripKeys<Record<string, unknown>>(item)
    for (const field of this.internalFields) delete record[field]
    return record as unknown as T
  }
}

/**
 * Updates the item at `key` with the record's fields if its stored version is still
 * `expectedVersion`; the saved record gets version + 1. Other attributes of the item are kept
 * unless given in `extra`. Throws ConditionFailedError when the item is gone or changed.
 */
export async function saveVersioned<R extends { version: number }>(
  db: Db,
  key: Key,
  record: R,
  expectedVersion: number,
  extra: Item = {},
  /** Attributes to remove from the item (e.g. an index key that no longer applies). */
  remove: string[] = []
): Promise<R> {
  const saved = { ...record, version: expectedVersion + 1 }
  const fields = Object.entries({ ...extra, ...saved }).filter(
    ([name, value]) => name !== 'id' && value !== undefined
  )
  const names: Record<string, string> = { '#version': 'version' }
  const values: Record<string, unknown> = { ':expected': expectedVersion }
  const assignments = fields.map(([name, value], index) => {
    names[`#f${index}`] = name
    values[`:f${index}`] = value
    return `#f${index} = :f${index}`
  })
  const removals = remove.map((name, index) => {
    names[`#r${index}`] = name
    return `#r${index}`
  })
  const expression = `SET ${assignments.join(', ')}${removals.length ? ` REMOVE ${removals.join(', ')}` : ''}`
  await db.update(
    key,
    { expression, names, values },
    { expression: 'attribute_exists(PK) AND #version = :expected' }
  )
  return saved
}

export { ConditionFailedError }
