/**
 * The fast path's plan (docs/hot-path.md), computed from the built-in policies' JSON form when
 * the built-ins are derived — at build time for the Lambda asset (infra/compile-policies.ts),
 * so a cold start only reads it. For each (principal type, action) pair of the planned actions
 * (every concrete action of the schema: product and Admin ones): which
 * built-in policies' scope can match it, and what those policies can read (attribute names,
 * entity literals, the action, the context as a whole). Whatever the analysis cannot decide
 * for certain counts as a match or a read, so the subset decides exactly as the whole set.
 */

/** Cedar's JSON form of a policy (as `policyToJson` answers), the parts read here. */
export interface PolicyJson {
  effect: 'permit' | 'forbid'
  principal: ScopeJson
  action: ScopeJson
  resource: ScopeJson
  conditions: { kind: 'when' | 'unless'; body: unknown }[]
  annotations?: Record<string, string | null>
}

interface RefJson {
  type: string
  id: string
}

type ScopeJson =
  | { op: 'All' }
  | { op: '==' | 'in'; entity?: RefJson; entities?: RefJson[]; slot?: string }
  | { op: 'is'; entity_type: string; in?: { entity?: RefJson; slot?: string } }

/** What one (principal type, action) pair needs from Cedar on the fast path. */
export interface FastPathPair {
  /** The built-in policies whose scope can match the pair (ids). */
  policies: string[]
  /** Cedar needs the action's entities: a policy kept its action scope or reads `action`. */
  actionEntities: boolean
  /** Every attribute, record field and context field name the policies read. */
  attributes: string[]
  /** Names of attributes whose value a policy uses whole (not only through `.field`/`has`). */
  wholeAttributes: string[]
  /** A policy uses `context` as a whole (it is then sent untrimmed). */
  wholeContext: boolean
  /** The entities the policies name literally, as `Type::id`. */
  literals: string[]
}

export interface FastPathPlan {
  /**
   * By policy id, the policy with its action scope removed, as Cedar text: present when the
   * scope names concrete actions or groups of the schema, whose members are known, so for
   * every pair the policy is in, that scope holds and Cedar need not check it (nor get the
   * action entities it would check it with).
   */
  unscoped: Record<string, string>
  /** By `<principal type>/<action>`, for every planned action and principal type it applies to. */
  pairs: Record<string, FastPathPair>
}

/** The key of a pair in `FastPathPlan.pairs`. */
export function pairKey(principalType: string, action: string): string {
  return `${principalType}/${action}`
}

/** A schema's actions, as its JSON form declares them. */
export interface SchemaActions {
  [name: string]: {
    memberOf?: { id: string; type?: string }[]
    appliesTo?: { principalTypes?: string[]; resourceTypes?: string[] }
  }
}

/** The actions of a schema in Cedar's JSON form, of every namespace. */
export function schemaActionsOf(schemaJson: unknown): SchemaActions {
  const namespaces = Object.values(schemaJson as Record<string, { actions?: SchemaActions }>)
  return Object.assign({}, ...namespaces.map((ns) => ns.actions ?? {}))
}

/** The schema's concrete actions: those that apply to a principal type (not groups). */
export function concreteActions(actions: SchemaActions): string[] {
  return Object.keys(actions).filter(
    (name) => (actions[name]?.appliesTo?.principalTypes?.length ?? 0) > 0
  )
}

/** The action and every group it is (transitively) in, as the schema declares them. */
export function actionAndGroups(actions: SchemaActions, action: string): string[] {
  const seen: string[] = []
  const visit = (name: string) => {
    if (seen.includes(name)) return
    seen.push(name)
    for (const parent of actions[name]?.memberOf ?? []) visit(parent.id)
  }
  visit(action)
  return seen
}

/** Whether an entity reference in an action scope is one of the schema's own actions. */
const isSchemaAction = (ref: RefJson | undefined, actions: SchemaActions) =>
  ref !== undefined && ref.type === 'Action' && ref.id in actions

/** Whether the action scope names only schema actions (so it holds or fails for certain). */
function actionScopeResolved(scope: ScopeJson, actions: SchemaActions): boolean {
  if (scope.op === 'All') return true
  if (scope.op === 'is') return false
  const named = scope.entities ?? (scope.entity ? [scope.entity] : [])
  return named.length > 0 && named.every((ref) => isSchemaAction(ref, actions))
}

function actionMayMatch(scope: ScopeJson, groups: readonly string[]): boolean {
  if (scope.op === 'All' || scope.op === 'is') return true
  const named = scope.entities ?? (scope.entity ? [scope.entity] : [])
  if (named.length === 0) return true // a slot or something unknown: counts as a match
  if (named.some((ref) => ref.type !== 'Action')) return true
  // `==` names the action itself; `in` the action or one of its groups (for a concrete action
  // `in` also holds for the action itself), so both match when the name is among `groups`.
  if (scope.op === '==') return named.some((ref) => ref.id === groups[0])
  return named.some((ref) => groups.includes(ref.id))
}

/** Whether a principal or resource scope can match an entity of `type`. */
function entityMayMatch(scope: ScopeJson, type: string): boolean {
  if (scope.op === 'is') return scope.entity_type === type
  if (scope.op === '==' && scope.entity) return scope.entity.type === type
  return true // All, `in` (any type can be in anything), slots
}

/** What a policy's conditions and scope read. */
interface Reads {
  attributes: Set<string>
  wholeAttributes: Set<string>
  wholeContext: boolean
  readsAction: boolean
  literals: Set<string>
}

function readsOf(policy: PolicyJson): Reads {
  const reads: Reads = {
    attributes: new Set(),
    wholeAttributes: new Set(),
    wholeContext: false,
    readsAction: false,
    literals: new Set(),
  }
  for (const scope of [policy.principal, policy.resource]) {
    const refs = [
      ...('entity' in scope && scope.entity ? [scope.entity] : []),
      ...('entities' in scope && scope.entities ? scope.entities : []),
      ...('in' in scope && scope.in?.entity ? [scope.in.entity] : []),
    ]
    for (const ref of refs) reads.literals.add(`${ref.type}::${ref.id}`)
  }
  // `accessed`: the node is the `left` of a `.` or `has`, i.e. only a field of it is read.
  const walk = (node: unknown, accessed: boolean): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, false)
      return
    }
    if (node === null || typeof node !== 'object') return
    const object = node as Record<string, unknown>
    if ('__entity' in object) {
      const ref = object.__entity as RefJson
      reads.literals.add(`${ref.type}::${ref.id}`)
      return
    }
    for (const [key, value] of Object.entries(object)) {
      if (key === 'Var') {
        if (value === 'action') reads.readsAction = true
        if (value === 'context' && !accessed) reads.wholeContext = true
        continue
      }
      if ((key === '.' || key === 'has') && value && typeof value === 'object') {
        const { left, attr } = value as { left: unknown; attr: string | string[] }
        const names = Array.isArray(attr) ? attr : [attr]
        for (const name of names) reads.attributes.add(name)
        // `a.b` used as a value (compared, tested with `in`, …) rather than read further.
        if (key === '.' && !accessed) reads.wholeAttributes.add(names[names.length - 1]!)
        walk(left, true)
        continue
      }
      walk(value, false)
    }
  }
  for (const condition of policy.conditions) walk(condition.body, false)
  return reads
}

/**
 * The plan for the built-in policies (`json`: each one's JSON form by id) under a schema in
 * Cedar's JSON form. `toText` turns a policy's JSON back into Cedar text (cedar-wasm's
 * `policyToText`).
 */
export function planFastPath(
  json: ReadonlyMap<string, PolicyJson>,
  schemaJson: unknown,
  planned: readonly string[],
  toText: (policy: PolicyJson) => string
): FastPathPlan {
  const actions = schemaActionsOf(schemaJson)
  const reads = new Map([...json].map(([id, policy]) => [id, readsOf(policy)]))
  const unscoped: Record<string, string> = {}
  for (const [id, policy] of json) {
    if (!actionScopeResolved(policy.action, actions)) continue
    const { annotations: _dropped, ...rest } = policy
    unscoped[id] = toText({ ...rest, action: { op: 'All' } })
  }
  const pairs: Record<string, FastPathPair> = {}
  for (const action of planned) {
    const groups = actionAndGroups(actions, action)
    const resourceTypes = actions[action]?.appliesTo?.resourceTypes ?? []
    for (const principalType of actions[action]?.appliesTo?.principalTypes ?? []) {
      const ids = [...json]
        .filter(
          ([, policy]) =>
            entityMayMatch(policy.principal, principalType) &&
            actionMayMatch(policy.action, groups) &&
            resourceTypes.some((type) => entityMayMatch(policy.resource, type))
        )
        .map(([id]) => id)
      const merged = ids.map((id) => reads.get(id)!)
      const union = (pick: (r: Reads) => Set<string>) =>
        [...new Set(merged.flatMap((r) => [...pick(r)]))].sort()
      pairs[pairKey(principalType, action)] = {
        policies: ids,
        actionEntities: ids.some((id) => !(id in unscoped) || reads.get(id)!.readsAction),
        attributes: union((r) => r.attributes),
        wholeAttributes: union((r) => r.wholeAttributes),
        wholeContext: merged.some((r) => r.wholeContext),
        literals: union((r) => r.literals),
      }
    }
  }
  return { unscoped, pairs }
}
