/**
 * The fast path's request trimming (docs/hot-path.md): a product request's entities and
 * context cut to what one (principal type, action) pair's policies can read, as the build-time
 * plan (fast-path-plan.ts) says. Pure functions over Cedar's JSON entity format.
 *
 * A policy reaches an entity only through a value: `principal`, `resource`, a literal it
 * names, or an attribute of an entity it reached (or of the context). So:
 * - attributes (and fields of records a policy only reads fields of) that no policy names are
 *   dropped;
 * - an entity no value reaches is dropped; the ancestors it gave others are kept by handing
 *   each entity its ancestors directly (Cedar takes the transitive closure either way);
 * - of those ancestors, only reachable ones are kept: `x in y` is only asked for a reachable y;
 * - a reachable entity left with no attribute and no ancestor is dropped too: Cedar treats a
 *   missing entity as one without attributes or ancestors (`has` false, `in` only itself),
 *   and the strictly validated built-ins never read an attribute an entity of the schema
 *   lacks without `has`.
 */
import type { CedarValue, EntityJson, EntityRef } from './engine.js'
import type { FastPathPair } from './fast-path-plan.js'

/** A pair's plan, with sets for the lookups each request makes. */
export interface FastPathReads {
  attributes: ReadonlySet<string>
  wholeAttributes: ReadonlySet<string>
  wholeContext: boolean
  literals: readonly string[]
}

export function readsOf(pair: FastPathPair): FastPathReads {
  return {
    attributes: new Set(pair.attributes),
    wholeAttributes: new Set(pair.wholeAttributes),
    wholeContext: pair.wholeContext,
    literals: pair.literals,
  }
}

type UidJson = EntityRef | { __entity: EntityRef }
interface EntityShape {
  uid: UidJson
  attrs: Record<string, CedarValue>
  parents: UidJson[]
  /** Not built by the server today; kept whole (with the entities in them) when present. */
  tags?: Record<string, CedarValue>
}

const refOf = (uid: UidJson): EntityRef => ('__entity' in uid ? uid.__entity : uid)
const keyOf = (ref: EntityRef) => `${ref.type}::${ref.id}`

/** `value` with record fields no policy names removed; every entity it holds is `reached`. */
function trimValue(value: CedarValue, reads: FastPathReads, reached: (key: string) => void) {
  if (value === null || typeof value !== 'object') return value
  const object = value as Record<string, CedarValue>
  // A set's elements are compared whole (`contains`); an entity or extension value is atomic.
  if (Array.isArray(value) || '__entity' in object || '__extn' in object) {
    reachAll(value, reached)
    return value
  }
  return trimRecord(object, reads, reached)
}

function trimRecord(
  record: Record<string, CedarValue>,
  reads: FastPathReads,
  reached: (key: string) => void
): Record<string, CedarValue> {
  const kept: Record<string, CedarValue> = {}
  for (const name in record) {
    if (!reads.attributes.has(name)) continue
    const value = record[name]!
    if (reads.wholeAttributes.has(name)) {
      // Used whole (compared, tested with `in`): kept as is, the entities in it reached.
      reachAll(value, reached)
      kept[name] = value
    } else kept[name] = trimValue(value, reads, reached)
  }
  return kept
}

/** Every entity `value` holds is `reached` (a value kept whole). */
function reachAll(value: CedarValue, reached: (key: string) => void): void {
  if (value === null || typeof value !== 'object') return
  if (Array.isArray(value)) {
    for (const item of value) reachAll(item, reached)
    return
  }
  const object = value as Record<string, CedarValue>
  if ('__entity' in object) reached(keyOf(object.__entity as unknown as EntityRef))
  else if (!('__extn' in object)) for (const name in object) reachAll(object[name]!, reached)
}

/** The context fields the pair's policies name (all of them when one uses `context` whole). */
export function trimContext(
  context: Record<string, CedarValue> | undefined,
  reads: FastPathReads,
  reached: (key: string) => void
): Record<string, CedarValue> {
  if (!context) return {}
  if (reads.wholeContext) {
    reachAll(context as CedarValue, reached)
    return context
  }
  return trimRecord(context, reads, reached)
}

/**
 * The request's context and entities trimmed to what `reads` can see (see the module
 * comment), for a request about `principal` and `resource`; null when Cedar would refuse the
 * entities as given (the same entity twice, a cycle in the hierarchy), which the plain path
 * reports in Cedar's words.
 */
export function trimRequest(
  principal: EntityRef,
  resource: EntityRef,
  entities: readonly EntityJson[],
  context: Record<string, CedarValue> | undefined,
  reads: FastPathReads
): { entities: EntityJson[]; context: Record<string, CedarValue> } | null {
  const all = entities as unknown as readonly EntityShape[]
  const byKey = new Map<string, EntityShape>()
  for (const entity of all) byKey.set(keyOf(refOf(entity.uid)), entity)
  if (byKey.size !== all.length || hasCycle(byKey)) return null
  const reachable = new Set<string>()
  const pending: string[] = []
  const reached = (key: string) => {
    if (reachable.has(key)) return
    reachable.add(key)
    pending.push(key)
  }
  reached(keyOf(principal))
  reached(keyOf(resource))
  for (const literal of reads.literals) reached(literal)
  const trimmedContext = trimContext(context, reads, reached)
  const attrs = new Map<string, Record<string, CedarValue>>()
  while (pending.length > 0) {
    const key = pending.pop()!
    const entity = byKey.get(key)
    if (!entity) continue
    attrs.set(key, trimRecord(entity.attrs, reads, reached))
    if (entity.tags) reachAll(entity.tags as CedarValue, reached)
  }
  const kept: EntityJson[] = []
  for (const entity of all) {
    const key = keyOf(refOf(entity.uid))
    const entityAttrs = attrs.get(key)
    if (!entityAttrs) continue
    const parents = reachableAncestors(entity, byKey, reachable)
    let empty = parents.length === 0 && !entity.tags
    if (empty) for (const _ in entityAttrs) empty = false
    if (empty) continue
    const trimmed: EntityShape = { uid: entity.uid, attrs: entityAttrs, parents }
    if (entity.tags) trimmed.tags = entity.tags
    kept.push(trimmed as unknown as EntityJson)
  }
  return { entities: kept, context: trimmedContext }
}

/** The entity's ancestors (parents, their parents, …) that a policy can ask `in` about. */
function reachableAncestors(
  entity: EntityShape,
  byKey: ReadonlyMap<string, EntityShape>,
  reachable: ReadonlySet<string>
): EntityRef[] {
  const found: EntityRef[] = []
  const seen = new Set<string>()
  const stack: UidJson[][] = [entity.parents]
  while (stack.length > 0) {
    for (const uid of stack.pop()!) {
      const ref = refOf(uid)
      const key = keyOf(ref)
      if (seen.has(key)) continue
      seen.add(key)
      if (reachable.has(key)) found.push(ref)
      const parent = byKey.get(key)
      if (parent) stack.push(parent.parents)
    }
  }
  return found
}

/** Whether the parent links among the given entities form a cycle (Cedar refuses one). */
function hasCycle(byKey: ReadonlyMap<string, EntityShape>): boolean {
  // 1 = on the current path, 2 = done.
  const state = new Map<string, 1 | 2>()
  const visit = (key: string): boolean => {
    const seen = state.get(key)
    if (seen !== undefined) return seen === 1
    const entity = byKey.get(key)
    if (!entity) return false
    state.set(key, 1)
    for (const uid of entity.parents) if (visit(keyOf(refOf(uid)))) return true
    state.set(key, 2)
    return false
  }
  for (const key of byKey.keys()) if (visit(key)) return true
  return false
}
