import { PRODUCTS, type Product, type SeatAssignment, type SeatPool } from '../model/index.js'
import { ConditionFailedError, type Db, type Expression, type Item } from './db.js'
import { keys } from './keys.js'

/**
 * The steps of a seat change in flight, recorded on the pool item under the member's id:
 * assign → assigning (counted) → done; release → releasing (seat item deleted) → done (uncounted).
 */
export type SeatStep = 'assign' | 'assigning' | 'release' | 'releasing'

export interface SeatMarker {
  step: SeatStep
  /** Identifies the request driving the change; a takeover replaces it. */
  token: string
  /** Epoch ms; a marker older than the lease belongs to a request presumed dead. */
  at: number
}

export interface StoredSeatPool {
  pool: SeatPool
  markers: Record<string, SeatMarker>
}

function toPool(product: Product, item: Item | undefined): StoredSeatPool {
  return {
    pool: {
      object: 'seat_pool',
      product,
      purchased: (item?.purchased as number | undefined) ?? 0,
      assigned: (item?.assigned as number | undefined) ?? 0,
      version: (item?.version as number | undefined) ?? 0,
    },
    markers: (item?.ops as Record<string, SeatMarker> | undefined) ?? {},
  }
}

async function conditional(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write()
    return true
  } catch (error) {
    if (error instanceof ConditionFailedError) return false
    throw error
  }
}

/**
 * Seats per product. The pool item `ORG#o` / `SEATPOOL#<product>` holds `purchased`, the
 * `assigned` counter and the markers of changes in flight (`ops`, a map by member id);
 * assignments are `ORG#o` / `SEAT#<product>#<member>` (readable by key). Every counter change
 * is a conditional update of the pool item that also moves the member's marker one step, so
 * the counter is never off by a retried or concurrent request and never exceeds `purchased`.
 */
export const seats = {
  async pool(db: Db, orgId: string, product: Product): Promise<StoredSeatPool> {
    return toPool(product, await db.get(keys.seatPool(orgId, product)))
  },

  /**
   * Sets the purchased count: only if it stays at or above `assigned` and, with
   * `expectedVersion`, only at that version. False when a condition fails.
   */
  async setPurchased(
    db: Db,
    orgId: string,
    product: Product,
    purchased: number,
    expectedVersion?: number
  ): Promise<boolean> {
    const key = keys.seatPool(orgId, product)
    const conditions = ['(attribute_not_exists(assigned) OR assigned <= :n)']
    const values: Record<string, unknown> = { ':n': purchased, ':zero': 0, ':one': 1, ':empty': {} }
    if (expectedVersion !== undefined) {
      conditions.push(expectedVersion === 0 ? 'attribute_not_exists(PK)' : 'version = :expected')
      if (expectedVersion !== 0) values[':expected'] = expectedVersion
    }
    return conditional(() =>
      db.update(
        key,
        {
          expression:
            'SET purchased = :n, assigned = if_not_exists(assigned, :zero), ' +
            'ops = if_not_exists(ops, :empty), version = if_not_exists(version, :zero) + :one',
          values,
        },
        { expression: conditions.join(' AND ') }
      )
    )
  },

  /** Starts a change for a member: only if the pool exists and no change of theirs is in flight. */
  startChange(db: Db, orgId: string, product: Product, memberId: string, marker: SeatMarker) {
    return putMarker(db, orgId, product, memberId, marker, {
      expression: 'attribute_exists(PK) AND attribute_not_exists(ops.#m)',
    })
  },

  /** Takes over a stale marker (its request presumed dead), only if it is still that one. */
  takeOver(
    db: Db,
    orgId: string,
    product: Product,
    memberId: string,
    stale: SeatMarker,
    marker: SeatMarker
  ) {
    return putMarker(db, orgId, product, memberId, marker, {
      expression: 'ops.#m.#token = :stale',
      names: { '#token': 'token' },
      values: { ':stale': stale.token },
    })
  },

  /**
   * Moves the member's marker from `from` to `to` (with our token), changing `assigned` by
   * `delta`; an increment also needs a free seat. `to` undefined ends the change.
   */
  step(
    db: Db,
    orgId: string,
    product: Product,
    memberId: string,
    token: string,
    from: SeatStep,
    to: SeatStep | undefined,
    delta: -1 | 0 | 1
  ) {
    const sets: string[] = []
    const values: Record<string, unknown> = {}
    if (to) {
      sets.push('ops.#m.#step = :to')
      values[':to'] = to
    }
    if (delta !== 0) {
      sets.push('assigned = assigned + :delta', 'version = version + :one')
      values[':delta'] = delta
      values[':one'] = 1
    }
    const update = [sets.length ? `SET ${sets.join(', ')}` : '', to ? '' : 'REMOVE ops.#m']
      .filter(Boolean)
      .join(' ')
    return conditional(() =>
      db.update(
        keys.seatPool(orgId, product),
        {
          expression: update,
          names: { '#m': memberId, ...(to ? { '#step': 'step' } : {}) },
          values,
        },
        {
          expression: `ops.#m.#step = :from AND ops.#m.#token = :token${delta > 0 ? ' AND assigned < purchased' : ''}`,
          names: { '#step': 'step', '#token': 'token' },
          values: { ':from': from, ':token': token },
        }
      )
    )
  },

  async assignment(
    db: Db,
    orgId: string,
    product: Product,
    memberId: string
  ): Promise<SeatAssignment | undefined> {
    const item = await db.get(keys.seat(orgId, product, memberId))
    return item ? toAssignment(item) : undefined
  },

  /** A member's seats, one BatchGet over the products (the decision path reads these). */
  async assignmentsOf(db: Db, orgId: string, memberId: string): Promise<SeatAssignment[]> {
    const items = await db.batchGet(PRODUCTS.map((product) => keys.seat(orgId, product, memberId)))
    return items.map(toAssignment).sort((a, b) => a.product.localeCompare(b.product))
  },

  /**
   * Bulk load of seat items (BatchWriteItem, unconditional): for seeding large organizations;
   * the pool's `assigned` counter is the caller's to set (setPurchased, then steps).
   */
  async putAssignments(db: Db, orgId: string, list: SeatAssignment[]): Promise<void> {
    await db.batchWrite(
      list.map((a) => ({ ...keys.seat(orgId, a.product, a.member_id), ...a })),
      [],
      4
    )
  },

  async putAssignment(db: Db, orgId: string, assignment: SeatAssignment): Promise<void> {
    await conditional(() =>
      db.create({
        ...keys.seat(orgId, assignment.product, assignment.member_id),
        ...assignment,
      })
    )
  },

  async removeAssignment(db: Db, orgId: string, product: Product, memberId: string) {
    await db.delete(keys.seat(orgId, product, memberId))
  },
}

/** Sets the member's marker if `condition` holds (it may use `#m` for the member id). */
function putMarker(
  db: Db,
  orgId: string,
  product: Product,
  memberId: string,
  marker: SeatMarker,
  condition: Expression
) {
  return conditional(() =>
    db.update(
      keys.seatPool(orgId, product),
      {
        expression: 'SET ops.#m = :marker',
        names: { '#m': memberId },
        values: { ':marker': marker },
      },
      condition
    )
  )
}

function toAssignment(item: Item): SeatAssignment {
  return {
    object: 'seat_assignment',
    product: item.product as Product,
    member_id: item.member_id as string,
    assigned_at: item.assigned_at as string,
  }
}
