import {
  Db,
  type Expression,
  type Item,
  type Key,
  type QueryInput,
} from '../../functions/store/db.js'

/**
 * The same table, but the process "dies" after a number of writes: from then on every write
 * throws (nothing more reaches the store), as if the Lambda had been killed mid-run.
 * BatchWriteItem counts one write per chunk of 25, so a batch can die half-way too.
 */
export class CrashingDb extends Db {
  private writesLeft = Number.POSITIVE_INFINITY
  crashed = false

  constructor(db: Db) {
    super(db.doc, db.tableName)
  }

  crashAfter(writes: number): this {
    this.writesLeft = writes
    this.crashed = false
    return this
  }

  private tick(): void {
    if (this.writesLeft <= 0) {
      this.crashed = true
      throw new Error('simulated crash')
    }
    this.writesLeft--
  }

  override async put(item: Item, condition?: Expression): Promise<void> {
    this.tick()
    return super.put(item, condition)
  }

  override async update(...args: Parameters<Db['update']>): Promise<Item | undefined> {
    this.tick()
    return super.update(...args)
  }

  override async delete(key: Key, condition?: Expression): Promise<void> {
    this.tick()
    return super.delete(key, condition)
  }

  override async batchWrite(puts: Item[], deletes: Key[] = []): Promise<void> {
    const requests = [
      ...puts.map((item) => ({ put: item })),
      ...deletes.map((key) => ({ del: key })),
    ]
    for (let i = 0; i < requests.length; i += 25) {
      this.tick()
      const chunk = requests.slice(i, i + 25)
      await super.batchWrite(
        chunk.flatMap((r) => ('put' in r ? [r.put] : [])),
        chunk.flatMap((r) => ('del' in r ? [r.del] : []))
      )
    }
  }
}

/** Counts DynamoDB calls (reads, writes) and the items the reads returned. */
export class CountingDb extends Db {
  /** Reads other than of credentials. */
  readCalls = 0
  credentialReads = 0
  itemsRead = 0
  writeCalls = 0
  /** Every read call other than of credentials: the keys read (`PK|SK`), or `PK|*` a query. */
  reads: string[][] = []

  constructor(db: Db) {
    super(db.doc, db.tableName)
  }

  reset(): void {
    this.reads = []
    this.readCalls = 0
    this.credentialReads = 0
    this.itemsRead = 0
    this.writeCalls = 0
  }

  override async get(key: Key, consistent = true): Promise<Item | undefined> {
    // A caller's credential is cached for up to 1 s of real time (docs/hot-path.md): whether it
    // is read depends on timing, so it is counted apart.
    if (key.PK.startsWith('CRED#')) {
      this.credentialReads++
      return super.get(key, consistent)
    }
    this.readCalls++
    this.reads.push([`${key.PK}|${key.SK}`])
    const item = await super.get(key, consistent)
    if (item) this.itemsRead++
    return item
  }

  override async query(input: QueryInput) {
    this.readCalls++
    this.reads.push([`${input.partition}|*`])
    const page = await super.query(input)
    this.itemsRead += page.items.length
    return page
  }

  override async batchGet(
    keys: Key[],
    options: { attributes?: string[]; concurrency?: number } = {}
  ) {
    this.readCalls += Math.ceil(keys.length / 100)
    for (let i = 0; i < keys.length; i += 100) {
      this.reads.push(keys.slice(i, i + 100).map((key) => `${key.PK}|${key.SK}`))
    }
    const items = await super.batchGet(keys, options)
    this.itemsRead += items.length
    return items
  }

  override async put(item: Item, condition?: Expression): Promise<void> {
    this.writeCalls++
    return super.put(item, condition)
  }

  override async update(...args: Parameters<Db['update']>) {
    this.writeCalls++
    return super.update(...args)
  }

  override async delete(key: Key, condition?: Expression): Promise<void> {
    this.writeCalls++
    return super.delete(key, condition)
  }

  override async batchWrite(puts: Item[], deletes: Key[] = [], concurrency = 1): Promise<void> {
    this.writeCalls += Math.ceil((puts.length + deletes.length) / 25)
    return super.batchWrite(puts, deletes, concurrency)
  }
}
