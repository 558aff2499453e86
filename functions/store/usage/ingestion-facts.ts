import type { PriceEntry } from '../../model/index.js'
import { type Db, type Item, type Key, stripKeys } from '../db.js'
import { keys } from '../keys.js'
import { configName, type StoredRateLimits } from '../rate-limits.js'
import type { StoredSpendLimit } from './budgets.js'
import { usageEvents } from './events.js'
import { mayBeLegacy, usageLayout } from './layout.js'
import { scopeName } from './scope.js'

/** Parallel BatchGet calls per request. */
const BATCH_CONCURRENCY = 4

/** What ingestion needs to know about one organization a batch names (absent: no such org). */
export interface IngestionOrganization {
  /** Its own price entries. */
  priceEntries: PriceEntry[]
  /** Its workspaces the batch names that exist, and whether they are archived. */
  workspaces: Map<string, { archived: boolean }>
  /** Its API keys the batch names that exist (revoked and expired ones too), and their workspace. */
  apiKeys: Map<string, { workspace_id: string }>
  /** Its members the batch names that exist and are not being created or removed. */
  members: Set<string>
  /**
   * The spend limits and rate-limit configurations of the organization and of the workspaces
   * the batch names that have one (by `scopeName` and `configName`): what live spend and the
   * token counters need, read with the facts and cached at the same revision.
   */
  spendLimits: Map<string, StoredSpendLimit>
  rateLimits: Map<string, StoredRateLimits>
  /**
   * True when the prices or an API key came from this process's cache rather than from this
   * request's read: a rejection they cause is read again before it is made (`ingestionFacts`
   * with `fresh`).
   */
  cached: boolean
}

/** What a batch of events refers to; ids repeat freely (each item is read once). */
export interface IngestionRef {
  organization_id: string
  workspace_id: string
  api_key_id?: string | null | undefined
  member_id?: string | null | undefined
}

/**
 * Facts that never change once true, remembered per table by this process: organizations exist
 * (the API never deletes one), and an API key exists in its workspace (keys are revoked, never
 * deleted nor moved). Unknown ones are always read again. Bounded: forgotten wholesale past
 * 100,000 entries.
 */
const remembered = new Map<
  string,
  { organizations: Set<string>; apiKeys: Map<string, Map<string, string>>; size: number }
>()
const REMEMBERED_LIMIT = 100_000

function rememberedFacts(db: Db) {
  let facts = remembered.get(db.tableName)
  if (!facts || facts.organizations.size + facts.size > REMEMBERED_LIMIT) {
    facts = { organizations: new Set(), apiKeys: new Map(), size: 0 }
    remembered.set(db.tableName, facts)
  }
  return facts
}

/**
 * Facts that can change — prices, workspaces that exist and are not archived, members that are
 * `ready`, spend limits and rate-limit configurations — per organization at one revision (every
 * change of them bumps it, after committing: docs/authorization.md), for at most a minute.
 * Only what lets an event through is kept: an unknown or archived workspace, an unknown or
 * not-ready member is read again by every request that names it. Per table client, like the
 * decision caches; bounded per organization and in organizations.
 */
interface OrgEntry {
  revision: number
  /** performance.now() when it was started: kept at most MAX_AGE_MS whatever the revision. */
  createdAt: number
  prices: PriceEntry[] | undefined
  workspaces: Set<string>
  members: Set<string>
  /** By workspace id (null: the organization); present = read, whether it has any or not. */
  limits: Map<string | null, { spend?: StoredSpendLimit; rate?: StoredRateLimits }>
}
const cached = new WeakMap<Db, Map<string, OrgEntry>>()
const MAX_ORGANIZATIONS = 1000
const MAX_ENTRIES_PER_ORGANIZATION = 10_000
/** As the decision caches' maxAgeMs: a change whose revision bump was lost counts within it. */
const MAX_AGE_MS = 60_000

function entryFor(db: Db, orgId: string, revision: number | undefined): OrgEntry {
  let byOrg = cached.get(db.cacheIdentity)
  if (!byOrg || byOrg.size > MAX_ORGANIZATIONS) {
    byOrg = new Map()
    cached.set(db.cacheIdentity, byOrg)
  }
  const current = byOrg.get(orgId)
  const fresh = (at: number): OrgEntry => ({
    revision: at,
    createdAt: performance.now(),
    prices: undefined,
    workspaces: new Set(),
    members: new Set(),
    limits: new Map(),
  })
  // A fresh re-read (no revision) adds to what is there: its facts are newer than its revision.
  if (revision === undefined) return current ?? fresh(-1)
  if (
    current &&
    current.revision === revision &&
    performance.now() - current.createdAt < MAX_AGE_MS &&
    current.workspaces.size + current.members.size + current.limits.size <
      MAX_ENTRIES_PER_ORGANIZATION
  ) {
    return current
  }
  const next = fresh(revision)
  // A request that read an older revision than the cached one works on its own entry.
  if (!current || current.revision <= revision) byOrg.set(orgId, next)
  return next
}

/**
 * Everything ingestion reads for a batch. First, at once, the duplicate check — the copies of
 * the events' own ids, read by range (events.ts), plus the raw items of events old enough to have
 * been stored the old way (layout.ts) — and ONE BatchGetItem of the revisions of the
 * organizations named; then, only for what the cache lacks at those revisions, one BatchGetItem of
 * prices, organizations, workspaces, API keys and members (`ingestionFacts`). A warm batch reads
 * nothing but its ids and the revisions, and sees every change committed before its read, on
 * any instance.
 */
export async function readForIngestion(
  db: Db,
  refs: readonly IngestionRef[],
  events: readonly { organization_id: string; id: string; timestamp: string }[],
  now: Date
): Promise<{ organizations: Map<string, IngestionOrganization>; seen: Set<string> }> {
  const organizationIds = [...new Set(refs.map((ref) => ref.organization_id))]
  const legacyBefore = await usageLayout.legacyBefore(db, now)
  const legacy = events.filter((event) => mayBeLegacy(event, legacyBefore))
  const [revisionItems, copies, legacySeen] = await Promise.all([
    db.batchGet(organizationIds.map((org) => keys.revision(org))),
    usageEvents.copiesOf(db, events, now),
    usageEvents.legacySeen(db, legacy, now),
  ])
  const revisions = new Map<string, number>(organizationIds.map((org) => [org, 0]))
  for (const item of revisionItems) {
    revisions.set((item.PK as string).slice('ORG#'.length), (item.revision as number) ?? 0)
  }
  const organizations = await ingestionFacts(db, refs, { revisions })
  return { organizations, seen: new Set([...copies.keys(), ...legacySeen]) }
}

/**
 * The facts of the organizations `refs` name, by organization id, from the cache at
 * `revisions` (what ingestion read just before) and one batched read (one BatchGetItem per 100
 * distinct keys) of the rest; `fresh` reads everything from the table, for a rejection.
 */
export async function ingestionFacts(
  db: Db,
  refs: readonly IngestionRef[],
  options: { revisions: ReadonlyMap<string, number> } | { fresh: true }
): Promise<Map<string, IngestionOrganization>> {
  const fresh = 'fresh' in options
  const facts = rememberedFacts(db)
  const known = facts.organizations
  const knownKeys = (org: string) => facts.apiKeys.get(org)
  const organizationIds = [...new Set(refs.map((ref) => ref.organization_id))]
  const entries = new Map(
    organizationIds.map((org) => [
      org,
      entryFor(db, org, fresh ? undefined : (options.revisions.get(org) ?? 0)),
    ])
  )
  type Kind =
    | 'prices'
    | 'organization'
    | 'workspace'
    | 'apiKey'
    | 'member'
    | 'spendLimit'
    | 'rateLimits'
  const wanted = new Map<
    string,
    { kind: Kind; organizationId: string; id: string; workspaceId?: string | null }
  >()
  const want = (key: Key, kind: Kind, organizationId: string, id: string) =>
    wanted.set(`${key.PK}\n${key.SK}`, { kind, organizationId, id })
  const wantLimits = (org: string, workspaceId: string | null) => {
    if (!fresh && entries.get(org)!.limits.has(workspaceId)) return
    for (const [key, kind] of [
      [keys.spendLimit(org, workspaceId), 'spendLimit'],
      [keys.rateLimits(org, workspaceId), 'rateLimits'],
    ] as const) {
      wanted.set(`${key.PK}\n${key.SK}`, { kind, organizationId: org, id: org, workspaceId })
    }
  }
  for (const org of organizationIds) {
    if (fresh || entries.get(org)!.prices === undefined) want(keys.prices(org), 'prices', org, org)
    if (!known.has(org)) want(keys.organization(org), 'organization', org, org)
    wantLimits(org, null)
  }
  for (const ref of refs) {
    const org = ref.organization_id
    const entry = entries.get(org)!
    wantLimits(org, ref.workspace_id)
    if (fresh || !entry.workspaces.has(ref.workspace_id)) {
      want(keys.workspace(org, ref.workspace_id), 'workspace', org, ref.workspace_id)
    }
    if (ref.api_key_id && (fresh || !knownKeys(org)?.has(ref.api_key_id))) {
      want(keys.apiKey(org, ref.api_key_id), 'apiKey', org, ref.api_key_id)
    }
    if (ref.member_id && (fresh || !entry.members.has(ref.member_id))) {
      want(keys.member(org, ref.member_id), 'member', org, ref.member_id)
    }
  }
  const items =
    wanted.size === 0
      ? []
      : await db.batchGet(
          [...wanted.keys()].map((id) => {
            const [PK, SK] = id.split('\n') as [string, string]
            return { PK, SK }
          }),
          // No projection: dynalite answers faster without one, and the items are small.
          { concurrency: BATCH_CONCURRENCY }
        )
  const found = new Map<string, Item>(items.map((item) => [`${item.PK}\n${item.SK}`, item]))
  // What this read found that the cache does not keep (archived workspaces), by organization.
  const archived = new Map<string, Set<string>>()
  const freshKeys = new Set<string>()
  for (const [id, request] of wanted) {
    const item = found.get(id)
    const org = request.organizationId
    const entry = entries.get(org)!
    switch (request.kind) {
      case 'prices':
        entry.prices = (item?.entries as PriceEntry[] | undefined) ?? []
        break
      case 'organization':
        if (item) known.add(org)
        break
      case 'workspace':
        if (!item) entry.workspaces.delete(request.id)
        else if (item.status === 'archived') {
          entry.workspaces.delete(request.id)
          archived.set(org, (archived.get(org) ?? new Set()).add(request.id))
        } else entry.workspaces.add(request.id)
        break
      case 'apiKey':
        if (!item) break
        if (!knownKeys(org)?.has(request.id)) facts.size++
        facts.apiKeys.set(
          org,
          (knownKeys(org) ?? new Map()).set(request.id, item.workspace_id as string)
        )
        freshKeys.add(`${org}\n${request.id}`)
        break
      case 'member':
        if (item?.state === 'ready') entry.members.add(request.id)
        else entry.members.delete(request.id)
        break
      case 'spendLimit':
      case 'rateLimits': {
        const workspaceId = request.workspaceId ?? null
        const limits = entry.limits.get(workspaceId) ?? {}
        if (request.kind === 'spendLimit') {
          limits.spend = item ? stripKeys<StoredSpendLimit>(item) : undefined
        } else limits.rate = item ? stripKeys<StoredRateLimits>(item) : undefined
        entry.limits.set(workspaceId, limits)
        break
      }
    }
  }
  const result = new Map<string, IngestionOrganization>()
  for (const org of organizationIds) {
    if (!known.has(org)) continue
    const prices = keys.prices(org)
    result.set(org, {
      priceEntries: entries.get(org)!.prices ?? [],
      workspaces: new Map(),
      apiKeys: new Map(),
      members: new Set(),
      spendLimits: new Map(),
      rateLimits: new Map(),
      cached: !wanted.has(`${prices.PK}\n${prices.SK}`),
    })
  }
  const addLimits = (organization: IngestionOrganization, org: string, ws: string | null) => {
    const limits = entries.get(org)!.limits.get(ws)
    const scope = { organization_id: org, workspace_id: ws }
    if (limits?.spend) organization.spendLimits.set(scopeName(scope), limits.spend)
    if (limits?.rate) organization.rateLimits.set(configName(org, ws), limits.rate)
  }
  for (const [org, organization] of result) addLimits(organization, org, null)
  // Only what the batch names (the cache may hold far more).
  for (const ref of refs) {
    const org = ref.organization_id
    const organization = result.get(org)
    if (!organization) continue
    const entry = entries.get(org)!
    addLimits(organization, org, ref.workspace_id)
    if (entry.workspaces.has(ref.workspace_id)) {
      organization.workspaces.set(ref.workspace_id, { archived: false })
    } else if (archived.get(org)?.has(ref.workspace_id)) {
      organization.workspaces.set(ref.workspace_id, { archived: true })
    }
    if (ref.member_id && entry.members.has(ref.member_id)) organization.members.add(ref.member_id)
    if (!ref.api_key_id) continue
    const workspaceId = knownKeys(org)?.get(ref.api_key_id)
    if (workspaceId === undefined) continue
    organization.apiKeys.set(ref.api_key_id, { workspace_id: workspaceId })
    if (!freshKeys.has(`${org}\n${ref.api_key_id}`)) organization.cached = true
  }
  return result
}
