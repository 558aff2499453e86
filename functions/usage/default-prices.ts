import type { PriceEntry } from '../model/index.js'

/**
 * The price list shipped with the project: what every organization pays until it sets its own
 * entries with `PUT /v1/prices`. Amounts are per million tokens (and per request where a model
 * charges one), in the organization's currency.
 */
export const DEFAULT_PRICES: readonly PriceEntry[] = [
  {
    model: 'claude-opus-4',
    input_per_million: '15.00',
    output_per_million: '75.00',
    per_request: null,
    effective_from: '2025-01-01T00:00:00.000Z',
  },
  {
    model: 'claude-sonnet-4',
    input_per_million: '3.00',
    output_per_million: '15.00',
    per_request: null,
    effective_from: '2025-01-01T00:00:00.000Z',
  },
  {
    model: 'claude-haiku-4',
    input_per_million: '1.00',
    output_per_million: '5.00',
    per_request: null,
    effective_from: '2025-01-01T00:00:00.000Z',
  },
  {
    model: 'claude-haiku-3',
    input_per_million: '0.25',
    output_per_million: '1.25',
    per_request: null,
    effective_from: '2024-03-01T00:00:00.000Z',
  },
  {
    model: 'web-search',
    input_per_million: '0.00',
    output_per_million: '0.00',
    per_request: '0.01',
    effective_from: '2025-01-01T00:00:00.000Z',
  },
]
