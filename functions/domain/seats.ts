import { randomUUID } from 'node:crypto'
import { busy, conflict, notFound, preconditionFailed, staleVersion } from '../lib/errors.js'
import { PRODUCTS, type Product, type SeatAssignment, type SeatPool } from '../model/index.js'
import { members } from '../store/members.js'
import { type SeatMarker, seats } from '../store/seats.js'
import { recordAudit } from './audit.js'
import { leaseExpired, leaseRemainingMs } from './concurrency.js'
import type { ServiceContext } from './context.js'

const ATTEMPTS = 6

export async function listSeatPools(
  ctx: ServiceContext,
  organizationId: string
): Promise<SeatPool[]> {
  const pools = await Promise.all(
    PRODUCTS.map((product) => seats.pool(ctx.db, organizationId, product))
  )
  return pools.map((stored) => stored.pool)
}

/**
 * Sets how many seats of a product the organization bought. Lowering it below the number
 * assigned → 409 (a single conditional update, so a concurrent assignment cannot slip past).
 */
export async function setPurchasedSeats(
  ctx: ServiceContext,
  organizationId: string,
  product: Product,
  purchased: number,
  expectedVersion?: number
): Promise<SeatPool> {
  const before = (await seats.pool(ctx.db, organizationId, product)).pool
  if (expectedVersion !== undefined && before.version !== expectedVersion) {
    throw staleVersion(`${product} seat pool`, before.version, expectedVersion)
  }
  if (before.version > 0 && before.purchased === purchased) return before
  const ok = await seats.setPurchased(ctx.db, organizationId, product, purchased, expectedVersion)
  const after = (await seats.pool(ctx.db, organizationId, product)).pool
  if (!ok) {
    if (expectedVersion !== undefined && after.version !== expectedVersion) {
      throw preconditionFailed('The seats were changed by another request; read them again.')
    }
    throw conflict(
      `${after.assigned} ${product} seats are assigned; release some before lowering purchased to ${purchased}.`,
      'purchased'
    )
  }
  await recordAudit(ctx, organizationId, {
    event_type: 'seats.updated',
    target: { type: 'seat_pool', id: product },
    before,
    after,
  })
  return after
}

type Outcome = 'assigned' | 'already' | 'no_seats' | 'released' | 'not_assigned' | 'lost'

/**
 * Drives one member's seat change from its marker's step to the end. Each step is a
 * conditional update naming the marker's step and token, so a step happens at most once even
 * when a retry or a takeover drives the same change. 'lost' means another request took the
 * marker over (or finished it); the caller reads the pool again.
 */
async function drive(
  ctx: ServiceContext,
  organizationId: string,
  product: Product,
  memberId: string,
  marker: SeatMarker
): Promise<Outcome> {
  const { db } = ctx
  const step = (from: SeatMarker['step'], to: SeatMarker['step'] | undefined, delta: -1 | 0 | 1) =>
    seats.step(db, organizationId, product, memberId, marker.token, from, to, delta)
  let current = marker.step
  for (;;) {
    switch (current) {
      case 'assign': {
        if (await seats.assignment(db, organizationId, product, memberId)) {
          return (await step('assign', undefined, 0)) ? 'already' : 'lost'
        }
        if (await step('assign', 'assigning', 1)) {
          current = 'assigning'
          break
        }
        // Either no seat is free, or the marker is no longer ours.
        return (await step('assign', undefined, 0)) ? 'no_seats' : 'lost'
      }
      case 'assigning': {
        await seats.putAssignment(db, organizationId, {
          object: 'seat_assignment',
          product,
          member_id: memberId,
          assigned_at: ctx.clock.now().toISOString(),
        })
        return (await step('assigning', undefined, 0)) ? 'assigned' : 'lost'
      }
      case 'release': {
        if (!(await seats.assignment(db, organizationId, product, memberId))) {
          return (await step('release', undefined, 0)) ? 'not_assigned' : 'lost'
        }
        if (!(await step('release', 'releasing', 0))) return 'lost'
        current = 'releasing'
        break
      }
      case 'releasing': {
        await seats.removeAssignment(db, organizationId, product, memberId)
        return (await step('releasing', undefined, -1)) ? 'released' : 'lost'
      }
    }
  }
}

async function auditOutcome(
  ctx: ServiceContext,
  organizationId: string,
  product: Product,
  memberId: string,
  outcome: Outcome
) {
  if (outcome !== 'assigned' && outcome !== 'released') return
  const seat = { product, member_id: memberId }
  await recordAudit(ctx, organizationId, {
    event_type: outcome === 'assigned' ? 'seat.assigned' : 'seat.released',
    target: { type: 'member', id: memberId },
    ...(outcome === 'assigned' ? { after: seat } : { before: seat }),
  })
}

/**
 * Another request's change of this member's seat is in flight. A fresh one → 409; a stale one
 * (its request presumed dead) is taken over and finished before ours starts.
 */
async function settle(
  ctx: ServiceContext,
  organizationId: string,
  product: Product,
  memberId: string,
  stale: SeatMarker
): Promise<Outcome> {
  const now = ctx.clock.now()
  if (!leaseExpired(stale.at, now)) {
    throw busy(
      `A ${product} seat change for ${memberId} is in progress; retry after Retry-After seconds.`,
      leaseRemainingMs(stale.at, now) / 1000
    )
  }
  const mine: SeatMarker = { step: stale.step, token: randomUUID(), at: now.getTime() }
  if (!(await seats.takeOver(ctx.db, organizationId, product, memberId, stale, mine))) {
    return 'lost'
  }
  const outcome = await drive(ctx, organizationId, product, memberId, mine)
  await auditOutcome(ctx, organizationId, product, memberId, outcome)
  return outcome
}

/** Runs a new change of `kind` for the member, settling any change already in flight. */
async function change(
  ctx: ServiceContext,
  organizationId: string,
  product: Product,
  memberId: string,
  kind: 'assign' | 'release'
): Promise<Outcome> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const { pool, markers } = await seats.pool(ctx.db, organizationId, product)
    if (pool.version === 0 && kind === 'assign') {
      throw conflict(`The organization has no ${product} seats; set purchased first.`, 'product')
    }
    const inFlight = markers[memberId]
    if (inFlight) {
      // A crashed change of the same kind finished now is this request's result (a retry).
      const finished = await settle(ctx, organizationId, product, memberId, inFlight)
      if (finished === (kind === 'assign' ? 'assigned' : 'released')) return finished
      continue
    }
    const assigned = await seats.assignment(ctx.db, organizationId, product, memberId)
    if (kind === 'assign' && assigned) return 'already'
    if (kind === 'release' && !assigned) return 'not_assigned'
    const marker: SeatMarker = { step: kind, token: randomUUID(), at: ctx.clock.now().getTime() }
    if (!(await seats.startChange(ctx.db, organizationId, product, memberId, marker))) continue
    const outcome = await drive(ctx, organizationId, product, memberId, marker)
    if (outcome === 'lost') continue
    await auditOutcome(ctx, organizationId, product, memberId, outcome)
    return outcome
  }
  throw conflict(`The ${product} seats are busy; retry shortly.`)
}

/**
 * Assigns the member a seat (idempotent: an assigned member keeps theirs). No seat free → 409.
 * The member is checked again afterwards: if they are being removed, the seat goes back.
 */
export async function assignSeat(
  ctx: ServiceContext,
  organizationId: string,
  product: Product,
  memberId: string
): Promise<{ assignment: SeatAssignment; created: boolean }> {
  const stored = await members.find(ctx.db, organizationId, memberId)
  if (stored?.state !== 'ready') throw notFound('member', memberId, 'id')
  if (stored.member.status !== 'active') {
    throw conflict('A deactivated member cannot be given a seat.', 'id')
  }
  const outcome = await change(ctx, organizationId, product, memberId, 'assign')
  if (outcome === 'no_seats') {
    throw conflict(`No ${product} seat is free; raise purchased or release one.`, 'product')
  }
  const again = await members.find(ctx.db, organizationId, memberId)
  if (again?.state !== 'ready') {
    await releaseSeat(ctx, organizationId, product, memberId)
    throw notFound('member', memberId, 'id')
  }
  const assignment = await seats.assignment(ctx.db, organizationId, product, memberId)
  if (!assignment) throw conflict(`The ${product} seat was released meanwhile; retry.`)
  return { assignment, created: outcome === 'assigned' }
}

/** Releases the member's seat; false when they had none. Used by removal cascades too. */
export async function releaseSeat(
  ctx: ServiceContext,
  organizationId: string,
  product: Product,
  memberId: string
): Promise<boolean> {
  const outcome = await change(ctx, organizationId, product, memberId, 'release')
  return outcome === 'released'
}

/** DELETE of a member's seat: 404 for an unknown member or a member without that seat. */
export async function releaseMemberSeat(
  ctx: ServiceContext,
  organizationId: string,
  product: Product,
  memberId: string
): Promise<void> {
  const stored = await members.find(ctx.db, organizationId, memberId)
  if (stored?.state !== 'ready') throw notFound('member', memberId, 'id')
  if (!(await releaseSeat(ctx, organizationId, product, memberId))) {
    throw notFound(`${product} seat of member`, memberId, 'product')
  }
}
