import type { ServiceContext } from '../../domain/context.js'
import {
  candidates,
  type FilterableAttributes,
  type KeyedLookup,
  keyedLookups,
  matches,
  parseFilter,
} from './filter.js'

/**
 * What a filtered list needs to know of a SCIM resource type (Users, Groups): the attributes a
 * filter may name, the keyed ones with how a key finds resources, a scan of them all, and the
 * SCIM representation a filter is evaluated on.
 */
export interface SearchableResource<T> {
  /** The core schema URN, which attribute paths may carry. */
  schema: string
  attributes: FilterableAttributes
  /** Exact lookups by keyed attribute (lower-cased path): the resources holding that value. */
  byKey: Record<
    string,
    (ctx: ServiceContext, organizationId: string, value: string) => Promise<T[]>
  >
  idOf(resource: T): string
  scan(ctx: ServiceContext, organizationId: string, max: number): Promise<T[]>
  /** The plural name and the filters that need no scan, for the tooMany error. */
  plural: string
  keyedHint: string
  /** How the found resources are represented for the filter (`filterText` says what it names). */
  representation(
    ctx: ServiceContext,
    organizationId: string,
    found: T[],
    filterText: string
  ): Promise<(resource: T) => Record<string, unknown>>
}

/**
 * Resources matching a filter (or all), in creation order: found by key when the filter
 * allows (keyedLookups), otherwise by one scan, then the whole filter evaluated on each
 * candidate's representation. Callers represent only the page they return.
 */
export async function searchResources<T>(
  ctx: ServiceContext,
  organizationId: string,
  type: SearchableResource<T>,
  filterText: string | undefined
): Promise<T[]> {
  const filter =
    filterText === undefined ? undefined : parseFilter(filterText, type.attributes, type.schema)
  const found = await candidates(
    filter && keyedLookups(filter, new Set(Object.keys(type.byKey)), type.schema),
    (lookups) => lookUp(ctx, organizationId, type, lookups),
    (max) => type.scan(ctx, organizationId, max),
    type.plural,
    type.keyedHint
  )
  if (!filter) return found
  const represent = await type.representation(ctx, organizationId, found, filterText!)
  return found.filter((resource) =>
    matches(represent(resource), filter, type.attributes, type.schema)
  )
}

/** The resources the lookups find, each once, in id (creation) order. */
async function lookUp<T>(
  ctx: ServiceContext,
  organizationId: string,
  type: SearchableResource<T>,
  lookups: KeyedLookup[]
): Promise<T[]> {
  const found = new Map<string, T>()
  for (const { attribute, value } of lookups) {
    for (const resource of await type.byKey[attribute]!(ctx, organizationId, value)) {
      found.set(type.idOf(resource), resource)
    }
  }
  return [...found.values()].sort((a, b) => (type.idOf(a) < type.idOf(b) ? -1 : 1))
}
