import type { QueryInput } from '../../functions/store/db.js'
import {
  Db,
  type Expression,
  type Item,
  type Key,
  StoreUnavailableError,
} from '../../functions/store/db.js'

export type Operation = 'get' | 'put' | 'update' | 'delete' | 'query' | 'batchWrite' | 'batchGet'

/**
 * A failure to inject: of the operations `op` whose sort key matches, the first `skip` pass
 * and the next `times` (default 1) fail.
 */
export interface Fault {
  op: Operation
  /** Matches the item's sort key (e.g. /^GRANT#/). */
  sk: RegExp
  skip?: number
  times?: number
  /** Fail as the store does when it throttles or is unreachable (StoreUnavailableError). */
  unavailable?: boolean
}

export class InjectedFault extends Error {
  constructor(op: Operation, sk: string) {
    super(`injected ${op} failure on ${sk}`)
  }
}

/**
 * A Db that fails chosen operations, to simulate a crash half-way through a multi-item change.
 * Tests arm a fault, make a request (which fails with 500), then retry and check the end state.
 */
export class FaultyDb extends Db {
  private faults: (Fault & { remaining: number; toSkip: number })[] = []

  arm(fault: Fault): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1, toSkip: fault.skip ?? 0 })
  }

  disarm(): void {
    this.faults = []
  }

  /** How many armed failures have not fired yet. */
  pending(): number {
    return this.faults.reduce((sum, fault) => sum + fault.remaining, 0)
  }

  private check(op: Operation, sk: string): void {
    const fault = this.faults.find((f) => f.op === op && f.remaining > 0 && f.sk.test(sk))
    if (!fault) return
    if (fault.toSkip > 0) {
      fault.toSkip--
      return
    }
    fault.remaining--
    const error = new InjectedFault(op, sk)
    throw fault.unavailable ? new StoreUnavailableError(error) : error
  }

  override async get(key: Key, consistent = true): Promise<Item | undefined> {
    this.check('get', key.SK)
    return super.get(key, consistent)
  }

  override async put(item: Item, condition?: Expression): Promise<void> {
    this.check('put', String(item.SK))
    return super.put(item, condition)
  }

  override async update(...args: Parameters<Db['update']>): Promise<Item | undefined> {
    this.check('update', args[0].SK)
    return super.update(...args)
  }

  override async batchWrite(puts: Item[], deletes: Key[] = [], concurrency = 1): Promise<void> {
    for (const item of puts) this.check('batchWrite', String(item.SK))
    for (const key of deletes) this.check('batchWrite', key.SK)
    return super.batchWrite(puts, deletes, concurrency)
  }

  override async delete(key: Key, condition?: Expression): Promise<void> {
    this.check('delete', key.SK)
    return super.delete(key, condition)
  }

  override async query(input: QueryInput) {
    this.check('query', input.sort && 'prefix' in input.sort ? input.sort.prefix : input.partition)
    return super.query(input)
  }
}
