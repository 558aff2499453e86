import { recordAudit } from '../domain/audit.js'
import type { ServiceContext } from '../domain/context.js'
import { getOrganization } from '../domain/organizations.js'
import { updateVersioned } from '../domain/versioning.js'
import { invalid } from '../lib/errors.js'
import {
  type ExactMoney,
  formatMoney,
  parseMoney,
  SUB_MICROS_PER_MICRO,
  splitSubMicros,
} from '../lib/money.js'
import type { PriceEntry } from '../model/index.js'
import { type OrganizationPrices, prices } from '../store/usage/prices.js'
import { DEFAULT_PRICES } from './default-prices.js'

export type PriceSource = 'default' | 'organization'

export interface PriceList {
  /** The organization's currency, which every amount is in. */
  currency: string
  /** Every entry that can apply: the organization's own and the shipped defaults. */
  data: (PriceEntry & { source: PriceSource })[]
  updated_at: string | null
  version: number
}

/** A price in micro-units, ready to cost an event. */
export interface Price {
  inputMicrosPerMillion: bigint
  outputMicrosPerMillion: bigint
  perRequestMicros: bigint
}

/**
 * The price of `model` at `at`. An organization's entries for a model take precedence from the
 * earliest of their `effective_from` on; before that (and for models it did not price) the
 * shipped defaults apply. Within a list the latest entry effective at `at` wins.
 */
export function priceAt(
  organizationEntries: readonly PriceEntry[],
  model: string,
  at: Date
): Price | undefined {
  const entry =
    latestEffective(organizationEntries, model, at) ?? latestEffective(DEFAULT_PRICES, model, at)
  if (!entry) return undefined
  return {
    inputMicrosPerMillion: parseMoney(entry.input_per_million),
    outputMicrosPerMillion: parseMoney(entry.output_per_million),
    perRequestMicros: entry.per_request === null ? 0n : parseMoney(entry.per_request),
  }
}

function latestEffective(
  entries: readonly PriceEntry[],
  model: string,
  at: Date
): PriceEntry | undefined {
  let best: PriceEntry | undefined
  for (const entry of entries) {
    if (entry.model !== model || Date.parse(entry.effective_from) > at.getTime()) continue
    if (!best || Date.parse(entry.effective_from) > Date.parse(best.effective_from)) best = entry
  }
  return best
}

/**
 * The exact cost of usage (one event or a sum), unrounded: ingestion fixes each event's cost at
 * the price of its timestamp this way, totals add the parts, and reports round each figure once
 * (issue 13: rounding per event made 1,000 one-token events of a cheap model cost "0.00").
 */
export function exactCost(
  price: Price,
  usage: { input_tokens: number; output_tokens: number; requests: number }
): ExactMoney {
  return splitSubMicros(
    BigInt(usage.input_tokens) * price.inputMicrosPerMillion +
      BigInt(usage.output_tokens) * price.outputMicrosPerMillion +
      BigInt(usage.requests) * price.perRequestMicros * SUB_MICROS_PER_MICRO
  )
}

/** The organization's own entries (none until it sets some). */
export async function organizationPriceEntries(
  ctx: Pick<ServiceContext, 'db'>,
  organizationId: string
): Promise<PriceEntry[]> {
  return (await prices.get(ctx.db, organizationId))?.entries ?? []
}

export async function getPriceList(ctx: ServiceContext, organizationId: string) {
  const [organization, stored] = await Promise.all([
    getOrganization(ctx, organizationId),
    prices.get(ctx.db, organizationId),
  ])
  return toPriceList(stored ?? { entries: [], updated_at: null, version: 0 }, organization.currency)
}

/**
 * Replaces the organization's own entries (an empty list returns it to the defaults). A model
 * may not have two entries with the same `effective_from`.
 */
export async function updatePrices(
  ctx: ServiceContext,
  organizationId: string,
  entries: PriceEntry[],
  expectedVersion?: number
): Promise<PriceList> {
  const normalized = entries
    .map((entry) => ({
      model: entry.model,
      input_per_million: normalizeMoney(entry.input_per_million),
      output_per_million: normalizeMoney(entry.output_per_million),
      per_request: entry.per_request === null ? null : normalizeMoney(entry.per_request),
      effective_from: new Date(entry.effective_from).toISOString(),
    }))
    .sort((a, b) => compare(a.model, b.model) || compare(a.effective_from, b.effective_from))
  normalized.forEach((entry, index) => {
    const previous = normalized[index - 1]
    if (previous?.model === entry.model && previous.effective_from === entry.effective_from) {
      throw invalid(
        `Model '${entry.model}' has two prices effective from ${entry.effective_from}.`,
        'prices'
      )
    }
  })
  const result = await updateVersioned<OrganizationPrices>({
    load: async () =>
      (await prices.get(ctx.db, organizationId)) ?? { entries: [], updated_at: null, version: 0 },
    missing: () => new Error('unreachable'),
    expectedVersion,
    apply: (current) =>
      JSON.stringify(current.entries) === JSON.stringify(normalized)
        ? undefined
        : {
            entries: normalized,
            updated_at: ctx.clock.now().toISOString(),
            version: current.version,
          },
    save: async (next, version) => {
      if (version > 0) return prices.save(ctx.db, organizationId, next, version)
      // First save: a concurrent first save makes this fail, and updateVersioned re-reads.
      const created = { ...next, version: 1 }
      await prices.create(ctx.db, organizationId, created)
      return created
    },
  })
  if (result.changed) {
    await recordAudit(ctx, organizationId, {
      event_type: 'prices.updated',
      target: { type: 'prices', id: organizationId },
      before: result.before.entries,
      after: result.after.entries,
    })
  }
  return toPriceList(result.after, (await getOrganization(ctx, organizationId)).currency)
}

function toPriceList(stored: OrganizationPrices, currency: string): PriceList {
  // Shown at the fixed money scale, whatever scale an entry was written or stored with.
  const own = stored.entries.map((entry) => ({ ...scaled(entry), source: 'organization' as const }))
  const defaults = DEFAULT_PRICES.map((entry) => ({ ...scaled(entry), source: 'default' as const }))
  const data = [...own, ...defaults].sort(
    (a, b) =>
      compare(a.model, b.model) ||
      compare(a.source, b.source) ||
      compare(a.effective_from, b.effective_from)
  )
  return { currency, data, updated_at: stored.updated_at, version: stored.version }
}

const normalizeMoney = (amount: string) => formatMoney(parseMoney(amount))

const scaled = (entry: PriceEntry): PriceEntry => ({
  ...entry,
  input_per_million: normalizeMoney(entry.input_per_million),
  output_per_million: normalizeMoney(entry.output_per_million),
  per_request: entry.per_request === null ? null : normalizeMoney(entry.per_request),
})

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
