import { OpenAPIHono, z } from '@hono/zod-openapi'
import {
  assignSeat,
  listSeatPools,
  releaseMemberSeat,
  setPurchasedSeats,
} from '../../domain/seats.js'
import { CacheControlHeader, cachedAdminRead } from '../http/admin-reads.js'
import type { AppEnv } from '../http/env.js'
import { expectedVersion, guard, respondWithVersion, serviceContext } from '../http/handlers.js'
import {
  AUTH_ERRORS,
  errorResponses,
  IdempotencyHeader,
  IfMatchHeader,
  json,
  jsonBody,
  listOf,
} from '../http/openapi.js'
import { ADMIN, ADMIN_CREATE, securedRoute } from '../http/route.js'
import { ProductSchema, SeatAssignmentSchema, SeatPoolSchema } from '../http/schemas/access.js'

export const seatRoutes = new OpenAPIHono<AppEnv>()

const tags = ['Seats']
const ProductParam = z.object({ product: ProductSchema })
const MemberSeatParams = z.object({ id: z.string().min(1).max(100), product: ProductSchema })

seatRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/seats',
    tags,
    summary: 'Purchased and assigned seats per product',
    request: { headers: CacheControlHeader },
    responses: { 200: json(listOf(SeatPoolSchema), 'Seats'), ...errorResponses(...AUTH_ERRORS) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_seats')
    const data = await cachedAdminRead(c, organizationId, ['seats'], () =>
      listSeatPools(serviceContext(c), organizationId)
    )
    return c.json({ object: 'list' as const, data, has_more: false, next_cursor: null }, 200)
  }
)

seatRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'put',
    path: '/v1/seats/{product}',
    tags,
    summary: 'Set the purchased seat count (not below the number assigned)',
    request: {
      params: ProductParam,
      headers: IfMatchHeader,
      body: jsonBody(z.object({ purchased: z.number().int().min(0).max(1_000_000) }).strict()),
    },
    responses: {
      200: json(SeatPoolSchema, 'The seats of the product'),
      ...errorResponses(...AUTH_ERRORS, 409, 412),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_seats')
    const pool = await setPurchasedSeats(
      serviceContext(c),
      organizationId,
      c.req.valid('param').product,
      c.req.valid('json').purchased,
      expectedVersion(c)
    )
    return respondWithVersion(c, pool, 200)
  }
)

seatRoutes.openapi(
  securedRoute(ADMIN_CREATE, {
    method: 'put',
    path: '/v1/members/{id}/seats/{product}',
    tags,
    summary: 'Assign the member a seat (201 when assigned now, 200 when they had one)',
    request: { params: MemberSeatParams, headers: IdempotencyHeader },
    responses: {
      200: json(SeatAssignmentSchema, 'Already assigned'),
      201: json(SeatAssignmentSchema, 'Assigned'),
      ...errorResponses(...AUTH_ERRORS, 404, 409),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_seats')
    const { id, product } = c.req.valid('param')
    const { assignment, created } = await assignSeat(serviceContext(c), organizationId, product, id)
    return created ? c.json(assignment, 201) : c.json(assignment, 200)
  }
)

seatRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'delete',
    path: '/v1/members/{id}/seats/{product}',
    tags,
    summary: "Release the member's seat",
    request: { params: MemberSeatParams },
    responses: {
      200: json(
        z.object({
          object: z.literal('seat_assignment.deleted'),
          product: ProductSchema,
          member_id: z.string(),
          deleted: z.literal(true),
        }),
        'Released'
      ),
      ...errorResponses(...AUTH_ERRORS, 404, 409),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'manage_seats')
    const { id, product } = c.req.valid('param')
    await releaseMemberSeat(serviceContext(c), organizationId, product, id)
    return c.json(
      {
        object: 'seat_assignment.deleted' as const,
        product,
        member_id: id,
        deleted: true as const,
      },
      200
    )
  }
)
