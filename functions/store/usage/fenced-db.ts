import { Db, type Expression, forEachConcurrently, type Item, type Key } from '../db.js'

/**
 * The same table as `inner`, but every write call first awaits `fence`, which throws when the
 * writer may no longer write (the aggregation job: its lease can no longer be proven). Batch
 * writes are fenced per chunk of 25, so a long batch stops part-way instead of writing on after
 * the lease ended. Reads go straight through.
 */
export class FencedDb extends Db {
  constructor(
    private readonly inner: Db,
    private readonly fence: () => Promise<void>
  ) {
    super(inner.doc, inner.tableName)
  }

  override get cacheIdentity(): Db {
    return this.inner.cacheIdentity
  }

  override get(key: Key, consistent = true) {
    return this.inner.get(key, consistent)
  }

  override query(...args: Parameters<Db['query']>) {
    return this.inner.query(...args)
  }

  override batchGet(...args: Parameters<Db['batchGet']>) {
    return this.inner.batchGet(...args)
  }

  override async put(item: Item, condition?: Expression): Promise<void> {
    await this.fence()
    return this.inner.put(item, condition)
  }

  override async update(...args: Parameters<Db['update']>) {
    await this.fence()
    return this.inner.update(...args)
  }

  override async delete(key: Key, condition?: Expression): Promise<void> {
    await this.fence()
    return this.inner.delete(key, condition)
  }

  override async batchWrite(puts: Item[], deletes: Key[] = [], concurrency = 1): Promise<void> {
    const requests = [
      ...puts.map((item) => ({ put: item })),
      ...deletes.map((key) => ({ del: key })),
    ]
    const chunks: (typeof requests)[] = []
    for (let i = 0; i < requests.length; i += 25) chunks.push(requests.slice(i, i + 25))
    await forEachConcurrently(chunks, concurrency, async (chunk) => {
      await this.fence()
      await this.inner.batchWrite(
        chunk.flatMap((r) => ('put' in r ? [r.put] : [])),
        chunk.flatMap((r) => ('del' in r ? [r.del] : []))
      )
    })
  }
}
