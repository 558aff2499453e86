import { OpenAPIHono, z } from '@hono/zod-openapi'
import { listBudgets } from '../../usage/budgets.js'
import { getPriceList, updatePrices } from '../../usage/prices.js'
import { aggregatedAsOf } from '../../usage/reports.js'
import { getSpendLimit, putSpendLimit } from '../../usage/spend-limits.js'
import { listBody, pageRequest } from '../http/cursors.js'
import type { AppEnv } from '../http/env.js'
import {
  expectedVersion,
  guard,
  guardWorkspace,
  respondWithVersion,
  serviceContext,
} from '../http/handlers.js'
import {
  AUTH_ERRORS,
  errorResponses,
  IdParam,
  IfMatchHeader,
  json,
  jsonBody,
  listOf,
  PageQuery,
} from '../http/openapi.js'
import { ADMIN, securedRoute } from '../http/route.js'
import {
  AsOf,
  BudgetSchema,
  PriceEntrySchema,
  PriceListSchema,
  SpendLimitInputSchema,
  SpendLimitSchema,
} from '../http/schemas/usage.js'

/** Spend limits, budgets and prices of the admin key's organization. */
export const budgetRoutes = new OpenAPIHono<AppEnv>()

// ----- Spend limits ----------------------------------------------------------------------

budgetRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/spend-limit',
    tags: ['Budgets'],
    summary: "The organization's monthly spend limit",
    responses: {
      200: json(SpendLimitSchema, 'The limit (monthly_limit null when none is set)'),
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_budgets')
    const limit = await getSpendLimit(serviceContext(c), organizationId, null)
    return respondWithVersion(c, limit, 200)
  }
)

budgetRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'put',
    path: '/v1/spend-limit',
    tags: ['Budgets'],
    summary: "Set the organization's monthly spend limit, alert thresholds and enforcement",
    description: 'The limit may not be below the limit of any workspace (400).',
    request: { headers: IfMatchHeader, body: jsonBody(SpendLimitInputSchema) },
    responses: {
      200: json(SpendLimitSchema, 'The limit; checked at the next ingestion or aggregation run'),
      ...errorResponses(...AUTH_ERRORS, 412),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'update_spend_limits')
    const limit = await putSpendLimit(
      serviceContext(c),
      organizationId,
      null,
      c.req.valid('json'),
      expectedVersion(c)
    )
    return respondWithVersion(c, limit, 200)
  }
)

budgetRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/workspaces/{id}/spend-limit',
    tags: ['Budgets'],
    summary: "A workspace's monthly spend limit",
    request: { params: IdParam },
    responses: {
      200: json(SpendLimitSchema, 'The limit (monthly_limit null when none is set)'),
      ...errorResponses(...AUTH_ERRORS, 404),
    },
  }),
  async (c) => {
    const { id } = c.req.valid('param')
    const organizationId = await guardWorkspace(c, 'read_budgets', id)
    const limit = await getSpendLimit(serviceContext(c), organizationId, id)
    return respondWithVersion(c, limit, 200)
  }
)

budgetRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'put',
    path: '/v1/workspaces/{id}/spend-limit',
    tags: ['Budgets'],
    summary: "Set a workspace's monthly spend limit (at most the organization's)",
    request: { params: IdParam, headers: IfMatchHeader, body: jsonBody(SpendLimitInputSchema) },
    responses: {
      200: json(SpendLimitSchema, 'The limit; checked at the next ingestion or aggregation run'),
      ...errorResponses(...AUTH_ERRORS, 404, 412),
    },
  }),
  async (c) => {
    const { id } = c.req.valid('param')
    const organizationId = await guardWorkspace(c, 'update_spend_limits', id)
    const limit = await putSpendLimit(
      serviceContext(c),
      organizationId,
      id,
      c.req.valid('json'),
      expectedVersion(c)
    )
    return respondWithVersion(c, limit, 200)
  }
)

// ----- Budgets ---------------------------------------------------------------------------

budgetRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/budgets',
    tags: ['Budgets'],
    summary: 'Month-to-date spend, forecast, state and alerts of the organization and workspaces',
    description:
      'As of the last aggregation run. The organization comes first on the first page, then a ' +
      'page of workspaces.',
    request: { query: PageQuery },
    responses: {
      200: json(listOf(BudgetSchema).extend({ as_of: AsOf }), 'Budgets'),
      ...errorResponses(...AUTH_ERRORS),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_budgets')
    const ctx = serviceContext(c)
    // Before the budgets: their spend is at least as fresh as the time shown.
    const asOf = await aggregatedAsOf(ctx)
    const page = await listBudgets(ctx, organizationId, pageRequest(c, c.req.valid('query')))
    return c.json({ ...listBody(c, page), as_of: asOf }, 200)
  }
)

// ----- Prices ----------------------------------------------------------------------------

budgetRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'get',
    path: '/v1/prices',
    tags: ['Prices'],
    summary: "The organization's prices: its own entries and the shipped defaults",
    responses: { 200: json(PriceListSchema, 'Prices'), ...errorResponses(...AUTH_ERRORS) },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'read_prices')
    const list = await getPriceList(serviceContext(c), organizationId)
    return respondWithVersion(c, priceListBody(list), 200)
  }
)

budgetRoutes.openapi(
  securedRoute(ADMIN, {
    method: 'put',
    path: '/v1/prices',
    tags: ['Prices'],
    summary: "Replace the organization's own price entries (an empty list restores the defaults)",
    description:
      "An organization's entries for a model apply from the earliest of their effective_from " +
      'on. Costs are fixed when an event is ingested, at the price effective at its timestamp.',
    request: {
      headers: IfMatchHeader,
      body: jsonBody(z.object({ prices: z.array(PriceEntrySchema).max(1000) }).strict()),
    },
    responses: {
      200: json(PriceListSchema, 'The prices now in force'),
      ...errorResponses(...AUTH_ERRORS, 412),
    },
  }),
  async (c) => {
    const { organizationId } = await guard(c, 'update_prices')
    const entries = c.req.valid('json').prices.map((entry) => ({
      ...entry,
      per_request: entry.per_request ?? null,
    }))
    const list = await updatePrices(serviceContext(c), organizationId, entries, expectedVersion(c))
    return respondWithVersion(c, priceListBody(list), 200)
  }
)

function priceListBody(list: Awaited<ReturnType<typeof getPriceList>>) {
  return {
    object: 'list' as const,
    currency: list.currency,
    data: list.data,
    has_more: false as const,
    next_cursor: null,
    updated_at: list.updated_at,
    version: list.version,
  }
}
