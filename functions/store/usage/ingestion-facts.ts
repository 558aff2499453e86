import type { PriceEntry } from '../../model/index.js'
import type { Db, Key } from '../db.js'
import { keys } from '../keys.js'

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
 * 100,000 entries. Workspaces and members are read on every request: an archive, unarchive or
 * removal must count at once.
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
 * One batched read (one BatchGetItem per 100 distinct keys) of the organizations' prices, of the
 * organizations this process has not seen exist yet, and of the distinct workspaces, API keys
 * and members the batch names. By organization id.
 */
export async function ingestionFacts(
  db: Db,
  refs: readonly IngestionRef[]
): Promise<Map<string, IngestionOrganization>> {
  const facts = rememberedFacts(db)
  const known = facts.organizations
  const knownKeys = (org: string) => facts.apiKeys.get(org)
  type Kind = 'prices' | 'organization' | 'workspace' | 'apiKey' | 'member'
  const wanted = new Map<string, { kind: Kind; organizationId: string; id: string }>()
  const want = (key: Key, kind: Kind, organizationId: string, id: string) =>
    wanted.set(`${key.PK}\n${key.SK}`, { kind, organizationId, id })
  const organizationIds = [...new Set(refs.map((ref) => ref.organization_id))]
  for (const org of organizationIds) {
    want(keys.prices(org), 'prices', org, org)
    if (!known.has(org)) want(keys.organization(org), 'organization', org, org)
  }
  for (const ref of refs) {
    const org = ref.organization_id
    want(keys.workspace(org, ref.workspace_id), 'workspace', org, ref.workspace_id)
    if (ref.api_key_id && !knownKeys(org)?.has(ref.api_key_id)) {
      want(keys.apiKey(org, ref.api_key_id), 'apiKey', org, ref.api_key_id)
    }
    if (ref.member_id) want(keys.member(org, ref.member_id), 'member', org, ref.member_id)
  }
  const items = await db.batchGet(
    [...wanted.keys()].map((id) => {
      const [PK, SK] = id.split('\n') as [string, string]
      return { PK, SK }
    }),
    // No projection: dynalite answers faster without one, and the items are small.
    { concurrency: BATCH_CONCURRENCY }
  )
  const result = new Map<string, IngestionOrganization>()
  const priceEntries = new Map<string, PriceEntry[]>()
  const workspaces = new Map<string, Map<string, { archived: boolean }>>()
  const members = new Map<string, Set<string>>()
  const add = <T>(byOrg: Map<string, T>, org: string, empty: () => T): T => {
    const value = byOrg.get(org) ?? empty()
    byOrg.set(org, value)
    return value
  }
  for (const item of items) {
    const request = wanted.get(`${item.PK}\n${item.SK}`)
    if (!request) continue
    const org = request.organizationId
    switch (request.kind) {
      case 'prices':
        priceEntries.set(org, item.entries as PriceEntry[])
        break
      case 'organization':
        known.add(org)
        break
      case 'workspace':
        add(workspaces, org, () => new Map()).set(request.id, {
          archived: item.status === 'archived',
        })
        break
      case 'apiKey':
        add(facts.apiKeys, org, () => new Map()).set(request.id, item.workspace_id as string)
        facts.size++
        break
      case 'member':
        if (item.state === 'ready') add(members, org, () => new Set()).add(request.id)
        break
    }
  }
  const apiKeys = new Map<string, Map<string, { workspace_id: string }>>()
  for (const ref of refs) {
    if (!ref.api_key_id) continue
    const workspaceId = knownKeys(ref.organization_id)?.get(ref.api_key_id)
    if (workspaceId === undefined) continue
    add(apiKeys, ref.organization_id, () => new Map()).set(ref.api_key_id, {
      workspace_id: workspaceId,
    })
  }
  for (const org of organizationIds) {
    if (!known.has(org)) continue
    result.set(org, {
      priceEntries: priceEntries.get(org) ?? [],
      workspaces: workspaces.get(org) ?? new Map(),
      apiKeys: apiKeys.get(org) ?? new Map(),
      members: members.get(org) ?? new Set(),
    })
  }
  return result
}
