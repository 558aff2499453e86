import { bucketStart } from '../lib/time-buckets.js'
import type { UsageEvent } from '../model/index.js'
import { type TotalsDelta, totalsKey } from '../store/usage/totals.js'

/** Each counted event adds to its hour, its day (all dimensions), and its month totals. */
export function totalsDeltas(events: readonly UsageEvent[]): TotalsDelta[] {
  const deltas = new Map<string, TotalsDelta>()
  const add = (
    delta: Omit<
      TotalsDelta,
      'input_tokens' | 'output_tokens' | 'requests' | 'cost_micros' | 'cost_sub_micros'
    >,
    event: UsageEvent
  ) => {
    const key = totalsKey(delta)
    const id = `${key.PK}\n${key.SK}`
    const current = deltas.get(id) ?? {
      ...delta,
      input_tokens: 0,
      output_tokens: 0,
      requests: 0,
      cost_micros: 0,
    }
    current.input_tokens += event.input_tokens
    current.output_tokens += event.output_tokens
    current.requests += event.requests
    current.cost_micros += event.cost_micros
    // Exact costs add up exactly: the sub-micro parts stay apart and are rounded only in reports.
    if (event.cost_sub_micros) {
      current.cost_sub_micros = (current.cost_sub_micros ?? 0) + event.cost_sub_micros
    }
    deltas.set(id, current)
  }
  for (const event of events) {
    const at = new Date(event.timestamp)
    const all = {
      workspace_id: event.workspace_id,
      model: event.model,
      product: event.product,
      api_key_id: event.api_key_id,
      member_id: event.member_id,
    }
    const none = {
      workspace_id: null,
      model: null,
      product: null,
      api_key_id: null,
      member_id: null,
    }
    const organization_id = event.organization_id
    add(
      {
        granularity: 'hour',
        organization_id,
        bucket_start: bucketStart(at, '1h'),
        dimensions: all,
      },
      event
    )
    add(
      { granularity: 'day', organization_id, bucket_start: bucketStart(at, '1d'), dimensions: all },
      event
    )
    const month = bucketStart(at, '1mo')
    add(
      {
        granularity: 'month',
        organization_id,
        bucket_start: month,
        dimensions: { ...none, workspace_id: event.workspace_id },
      },
      event
    )
    add({ granularity: 'month', organization_id, bucket_start: month, dimensions: none }, event)
  }
  return [...deltas.values()]
}
