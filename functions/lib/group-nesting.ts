/**
 * The longest chain of nested groups (member → g1 → … → g10). Nesting deeper is refused by the
 * Admin API, so no walk ever needs to go further: it bounds a decision's reads.
 */
export const MAX_NESTING_DEPTH = 10

/** A group a walk reached, and one shortest chain of ids to it (from a start id, inclusive). */
export interface Reached<T> {
  node: T
  path: string[]
}

/**
 * The one walk over group nesting (decisions, effective access, nesting checks): breadth-first
 * from `start`, one `read` per level — a single round trip for the level's ids — and `next`
 * naming the ids one step on (parents upward or subgroups downward). Ids `read` leaves out are
 * absent (gone, or not in a state that counts). An id is read at most once (ids in `seen` never),
 * so a cycle is harmless, and the walk stops after MAX_NESTING_DEPTH levels. Breadth-first, so
 * each path is a shortest one; results are in the order they were reached.
 */
export async function walkNesting<T>(
  start: readonly string[],
  read: (ids: string[]) => Promise<ReadonlyMap<string, T>>,
  next: (node: T) => readonly string[],
  seen: Iterable<string> = []
): Promise<Map<string, Reached<T>>> {
  const reached = new Map<string, Reached<T>>()
  const visited = new Set(seen)
  let frontier = new Map<string, string[]>()
  for (const id of start) if (!visited.has(id) && !frontier.has(id)) frontier.set(id, [id])
  for (let level = 0; frontier.size > 0 && level < MAX_NESTING_DEPTH; level++) {
    const ids = [...frontier.keys()]
    for (const id of ids) visited.add(id)
    const found = await read(ids)
    const upcoming = new Map<string, string[]>()
    for (const [id, path] of frontier) {
      const node = found.get(id)
      if (node === undefined) continue
      reached.set(id, { node, path })
      for (const nextId of next(node)) {
        if (!visited.has(nextId) && !upcoming.has(nextId)) upcoming.set(nextId, [...path, nextId])
      }
    }
    frontier = upcoming
  }
  return reached
}
