import { Db, type Expression, type Item, type Key, StoreUnavailableError } from './db.js'

/** Attempts per call, and the first pause between them (doubled each time, with jitter). */
const ATTEMPTS = 4
const FIRST_PAUSE_MS = 25

/**
 * The same table as `inner`, but a call the store throttled or could not answer is tried again
 * a few times before the error is passed on — on top of the SDK's own retries, for long jobs
 * that would otherwise lose all their work to one failed call. Only for callers whose every call
 * is safe to repeat, also after a write that was applied but whose answer was lost (the
 * aggregation job: idempotent puts and deletes, and conditional updates whose condition refuses
 * a second application; recording an idempotent request's response, an unconditional SET).
 */
export class RetryingDb extends Db {
  constructor(private readonly inner: Db) {
    super(inner.doc, inner.tableName)
  }

  override get cacheIdentity(): Db {
    return this.inner.cacheIdentity
  }

  private async retry<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call()
      } catch (error) {
        if (!(error instanceof StoreUnavailableError) || attempt >= ATTEMPTS) throw error
        const pause = FIRST_PAUSE_MS * 2 ** (attempt - 1)
        await new Promise((resolve) => setTimeout(resolve, pause / 2 + Math.random() * pause))
      }
    }
  }

  override get(key: Key, consistent = true) {
    return this.retry(() => this.inner.get(key, consistent))
  }

  override query(...args: Parameters<Db['query']>) {
    return this.retry(() => this.inner.query(...args))
  }

  override batchGet(...args: Parameters<Db['batchGet']>) {
    return this.retry(() => this.inner.batchGet(...args))
  }

  override put(item: Item, condition?: Expression) {
    return this.retry(() => this.inner.put(item, condition))
  }

  override update(...args: Parameters<Db['update']>) {
    return this.retry(() => this.inner.update(...args))
  }

  override delete(key: Key, condition?: Expression) {
    return this.retry(() => this.inner.delete(key, condition))
  }

  override batchWrite(puts: Item[], deletes: Key[] = [], concurrency = 1) {
    return this.retry(() => this.inner.batchWrite(puts, deletes, concurrency))
  }
}
