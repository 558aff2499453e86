import {
  type DecisionService,
  PERMITTING_ORG_ROLES,
  type ProductRequest,
} from '../authz/decisions.js'
import type { Decision } from '../authz/engine.js'
import { invalid, notFound } from '../lib/errors.js'
import type { ProductAction } from '../model/index.js'
import { type CandidateKind, candidateIds, roleHolders } from '../store/candidates.js'
import type { Db } from '../store/db.js'
import { members } from '../store/members.js'
import type { Page, PageRequest } from '../store/pagination.js'
import { workspaces } from '../store/workspaces.js'

/**
 * Reverse queries (docs/decision-log.md, "Reverse queries"): who may do an action in a
 * workspace, and where a member may do it. Every candidate — each member and API key of the
 * organization, or each of its workspaces — is decided by the same decision path as
 * `/v1/authorize` (same snapshot, same policy set, custom policies and guardrails included),
 * with an empty context. Candidates are read and decided in id order, a chunk at a time; a page
 * stops when it is full or after `SCAN_BUDGET` candidates, and then says where to go on
 * (`has_more` with a cursor), so a page's cost is bounded and a result is never cut off silently.
 */

/** Candidates decided at most per page (a sparse result may need several pages). */
export const SCAN_BUDGET = 500
/** Candidates read and decided together (one Query, one batched facts read). */
const CHUNK = 250

export interface AuthorizedPrincipal {
  object: 'authorized_principal'
  principal: { type: 'Member' | 'ApiKey'; id: string }
  determining_policies: Decision['determining_policies']
}

export interface AuthorizedWorkspace {
  object: 'authorized_workspace'
  workspace_id: string
  determining_policies: Decision['determining_policies']
}

export interface WalkOptions {
  /** Candidates decided at most in this page (default SCAN_BUDGET). */
  budget?: number
}

interface Position {
  kind: CandidateKind
  /** The last candidate of `kind` examined, or null to start at the first. */
  after: string | null
}

function openPosition(cursor: string | undefined, kinds: readonly CandidateKind[]): Position {
  if (cursor === undefined) return { kind: kinds[0]!, after: null }
  const separator = cursor.indexOf(':')
  const kind = cursor.slice(0, separator) as CandidateKind
  const after = cursor.slice(separator + 1)
  if (separator <= 0 || !kinds.includes(kind)) {
    throw invalid('The cursor is not valid for this list.', 'after')
  }
  // `kind:` = from the first candidate of that kind.
  return { kind, after: after === '' ? null : after }
}

/**
 * The shared walk: candidates of `kinds` in order from `cursor`, each chunk decided through
 * `decide`; the allowed ones become rows until the page is full or the budget is spent.
 */
/** The next candidates of a kind after `after` (exclusive), in id order, at most `max`. */
type CandidateSource = (
  kind: CandidateKind,
  after: string | null,
  max: number
) => Promise<{ ids: string[]; more: boolean }>

async function walk<T>(
  source: CandidateSource,
  kinds: readonly CandidateKind[],
  page: PageRequest,
  decide: (kind: CandidateKind, ids: string[]) => Promise<Decision[]>,
  row: (kind: CandidateKind, id: string, decision: Decision) => T,
  budget: number
): Promise<Page<T>> {
  let position = openPosition(page.after, kinds)
  const data: T[] = []
  let examined = 0
  for (;;) {
    const chunk = await source(position.kind, position.after, Math.min(CHUNK, budget - examined))
    const decisions = chunk.ids.length > 0 ? await decide(position.kind, chunk.ids) : []
    for (let i = 0; i < chunk.ids.length; i++) {
      const id = chunk.ids[i]!
      if (decisions[i]!.decision !== 'allow') continue
      if (data.length === page.limit) {
        // Full, and there is at least one more: go on after the last row returned.
        const last = i === 0 ? position.after : chunk.ids[i - 1]!
        return { data, has_more: true, next_cursor: `${position.kind}:${last ?? ''}` }
      }
      data.push(row(position.kind, id, decisions[i]!))
    }
    examined += chunk.ids.length
    const lastId = chunk.ids[chunk.ids.length - 1] ?? position.after
    if (!chunk.more) {
      const nextKind = kinds[kinds.indexOf(position.kind) + 1]
      if (nextKind === undefined) return { data, has_more: false, next_cursor: null }
      position = { kind: nextKind, after: null }
    } else {
      position = { kind: position.kind, after: lastId }
    }
    if (examined >= budget) {
      // Budget spent: hand back what was found and where to resume (possibly an empty page).
      const resume =
        position.after === null
          ? // At the start of the next kind: resume there (the previous kind is done).
            `${position.kind}:`
          : `${position.kind}:${position.after}`
      return { data, has_more: true, next_cursor: resume }
    }
  }
}

/**
 * Members that hold a role in the workspace (their own grant, streamed in id order) merged
 * with those reaching it through groups or an org role (read once per page); API keys all.
 */
function roleHolderSource(
  db: Db,
  organizationId: string,
  workspaceId: string,
  everyone: CandidateSource
): CandidateSource {
  let others: Promise<string[]> | undefined
  return async (kind, after, max) => {
    if (kind !== 'member') return everyone(kind, after, max)
    others ??= roleHolders.others(db, organizationId, workspaceId, [...PERMITTING_ORG_ROLES])
    const [granted, reached] = await Promise.all([
      roleHolders.granted(db, organizationId, workspaceId, after, max),
      others,
    ])
    // Past the last granted id read, the granted stream has not been seen yet: stop there.
    const bound = granted.more ? granted.ids[granted.ids.length - 1] : undefined
    const extra = reached.filter(
      (id) => (after === null || id > after) && (bound === undefined || id <= bound)
    )
    const ids = [...new Set([...granted.ids, ...extra])].sort()
    if (ids.length > max) return { ids: ids.slice(0, max), more: true }
    return { ids, more: granted.more }
  }
}

/** Who may do `action` in the workspace: its organization's members, then its API keys. */
export async function authorizedPrincipals(
  db: Db,
  decisions: DecisionService,
  organizationId: string,
  workspaceId: string,
  action: ProductAction,
  page: PageRequest,
  now: Date,
  options: WalkOptions = {}
): Promise<Page<AuthorizedPrincipal>> {
  if (!(await workspaces.get(db, organizationId, workspaceId))) {
    throw notFound('workspace', workspaceId, 'id')
  }
  const everyone: CandidateSource = (kind, after, max) =>
    candidateIds(db, organizationId, kind, after, max)
  // Without a custom permit only role holders can be allowed (DecisionService.hasCustomPermits):
  // members come from the workspace's grants, its groups' and the org roles' members instead.
  const source = (await decisions.hasCustomPermits(organizationId))
    ? everyone
    : roleHolderSource(db, organizationId, workspaceId, everyone)
  return walk(
    source,
    ['member', 'apiKey'],
    page,
    (kind, ids) =>
      decisions.authorizeCandidates(
        organizationId,
        ids.map(
          (id): ProductRequest => ({
            principal: { type: kind === 'member' ? 'Member' : 'ApiKey', id },
            action,
            resource: { type: 'Workspace', id: workspaceId },
          })
        ),
        now
      ),
    (kind, id, decision) => ({
      object: 'authorized_principal',
      principal: { type: kind === 'member' ? 'Member' : 'ApiKey', id },
      determining_policies: decision.determining_policies,
    }),
    options.budget ?? SCAN_BUDGET
  )
}

/** The workspaces where the member may do `action`. */
export async function authorizedWorkspaces(
  db: Db,
  decisions: DecisionService,
  organizationId: string,
  memberId: string,
  action: ProductAction,
  page: PageRequest,
  now: Date,
  options: WalkOptions = {}
): Promise<Page<AuthorizedWorkspace>> {
  const member = await members.find(db, organizationId, memberId)
  if (member?.state !== 'ready') throw notFound('member', memberId, 'id')
  return walk(
    (kind, after, max) => candidateIds(db, organizationId, kind, after, max),
    ['workspace'],
    page,
    (_kind, ids) =>
      decisions.authorizeCandidates(
        organizationId,
        ids.map(
          (id): ProductRequest => ({
            principal: { type: 'Member', id: memberId },
            action,
            resource: { type: 'Workspace', id },
          })
        ),
        now
      ),
    (_kind, id, decision) => ({
      object: 'authorized_workspace',
      workspace_id: id,
      determining_policies: decision.determining_policies,
    }),
    options.budget ?? SCAN_BUDGET
  )
}
