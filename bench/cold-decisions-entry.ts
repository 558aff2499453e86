/**
 * Bundled by bench/suites/bundles.ts and imported in a fresh process: the Cedar engine's cold
 * start as the API Lambda's init does it (load and pre-parse the compiled built-in policies;
 * no warm-up), then `measure` times the first decisions of an organization, one at a time, and
 * decisions after thousands more. WARM_UP_DECISIONS > 0 measures the alternative we rejected:
 * running that many representative decisions during init (over a throwaway in-memory
 * organization) so V8 compiles and optimizes the hot wasm functions before the first request.
 */
import {
  ADMIN_ACTIONS,
  type AdminAction,
  type AdminResource,
  adminRequest,
} from '../functions/authz/admin.js'
import { DecisionService, type ProductRequest } from '../functions/authz/decisions.js'
import { decide } from '../functions/authz/engine.js'
import { MemoryDecisionFacts } from '../functions/authz/memory-facts.js'
import { WORKSPACE_ROLES, type Workspace } from '../functions/model/index.js'

const WARM_ORG = 'org_warmup'
const WARM_WORKSPACE = 'ws_warmup'
const OTHER_WORKSPACE = 'ws_warmup_other'
/** The product actions of the schema, as /v1/authorize asks them. */
const PRODUCT_ACTIONS = [
  'use_chat',
  'use_studio',
  'use_code',
  'invoke_model',
  'manage_api_keys',
  'read_usage',
  'view_observability',
  'administer_workspace',
]

/** An organization with the shapes real requests have: roles, nested groups, seats, a key. */
function throwawayOrganization(): MemoryDecisionFacts {
  const facts = new MemoryDecisionFacts()
  facts.setOrganization(WARM_ORG, { suspended: false, sellsChatSeats: true })
  facts.setWorkspace(WARM_ORG, { id: WARM_WORKSPACE, archived: false, isDefault: true })
  facts.setWorkspace(WARM_ORG, { id: OTHER_WORKSPACE, archived: false, isDefault: false }, true)
  facts.setGroup(WARM_ORG, { id: 'grp_company', orgRole: null, parentIds: [] })
  facts.setGroup(WARM_ORG, { id: 'grp_team', orgRole: 'member', parentIds: ['grp_company'] })
  WORKSPACE_ROLES.forEach((role, index) => {
    facts.setMember(WARM_ORG, {
      id: `mem_${index}`,
      status: 'active',
      orgRole: index === 0 ? 'organization_admin' : 'member',
      groupIds: index % 2 ? ['grp_team'] : [],
      seats: index % 3 ? ['chat'] : [],
    })
    facts.setGrant(WARM_ORG, { workspaceId: WARM_WORKSPACE, type: 'member', id: `mem_${index}` }, [
      role,
    ])
  })
  facts.setGrant(WARM_ORG, { workspaceId: WARM_WORKSPACE, type: 'group', id: 'grp_company' }, [
    'user',
  ])
  facts.setApiKey(WARM_ORG, {
    id: 'key_warmup',
    status: 'active',
    expiresAt: null,
    workspaceId: WARM_WORKSPACE,
    memberId: 'mem_1',
  })
  return facts
}

/**
 * Runs `count` representative decisions, cycling through every product action for every
 * member and the key in both workspaces and every Admin action; returns how many ran.
 */
async function warmUpDecisions(count: number): Promise<number> {
  const service = new DecisionService(throwawayOrganization())
  const now = new Date()
  const principals: ProductRequest['principal'][] = [
    ...WORKSPACE_ROLES.map((_, index) => ({ type: 'Member' as const, id: `mem_${index}` })),
    { type: 'ApiKey', id: 'key_warmup' },
  ]
  const organization = { id: WARM_ORG, suspended: false, sellsChatSeats: true }
  const at = now.toISOString()
  const workspace: Workspace = {
    id: WARM_WORKSPACE,
    object: 'workspace',
    organization_id: WARM_ORG,
    name: 'Warm-up',
    description: null,
    is_default: false,
    status: 'active',
    archived_at: null,
    created_at: at,
    updated_at: at,
    version: 1,
  }
  const resourceOf = (action: AdminAction): AdminResource =>
    ADMIN_ACTIONS[action].startsWith('Organization')
      ? { type: 'Organization', organizationId: WARM_ORG }
      : { type: 'Workspace', workspace }
  const product: ProductRequest[] = principals.flatMap((principal, p) =>
    PRODUCT_ACTIONS.map((action, a) => ({
      principal,
      action,
      resource: { type: 'Workspace' as const, id: (p + a) % 4 ? WARM_WORKSPACE : OTHER_WORKSPACE },
      context: { model: 'claude-sonnet-4', source_ip: '192.0.2.1' },
    }))
  )
  const admin = (Object.keys(ADMIN_ACTIONS) as AdminAction[]).map((action) =>
    adminRequest(
      { id: 'adm_warmup', organizationId: WARM_ORG, orgRoles: ['organization_admin'] },
      action,
      resourceOf(action),
      { organization, workspaceSuspended: false }
    )
  )
  // Interleaved, as traffic is: mostly product decisions, an Admin decision every fourth.
  for (let i = 0; i < count; i++) {
    if (i % 4 === 3) decide(admin[(i >> 2) % admin.length]!)
    else await service.authorize(WARM_ORG, product[i % product.length]!, now)
  }
  return count
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1000
}
const warmUpStarted = process.cpuUsage()
await warmUpDecisions(Number(process.env.WARM_UP_DECISIONS ?? 0))
/** CPU milliseconds the warm-up took. */
export const warmUpCpuMs = cpuMs(warmUpStarted)

const ORG = 'org_measured'
const MEMBERS = 500
const ACTIONS = ['use_chat', 'use_studio', 'use_code', 'invoke_model', 'read_usage']

/** Microseconds of each of the first `first` decisions, then of `warm` after `between` more. */
export async function measure(first: number, between: number, warm: number) {
  const facts = new MemoryDecisionFacts()
  facts.setOrganization(ORG, { suspended: false, sellsChatSeats: true })
  facts.setWorkspace(ORG, { id: 'ws_a', archived: false, isDefault: true })
  facts.setGroup(ORG, { id: 'grp_all', orgRole: null, parentIds: [] })
  for (let i = 0; i < MEMBERS; i++) {
    facts.setMember(ORG, {
      id: `mem_${i}`,
      status: 'active',
      orgRole: 'member',
      groupIds: i % 2 ? ['grp_all'] : [],
      seats: i % 3 ? ['chat'] : [],
    })
    const role = WORKSPACE_ROLES[i % WORKSPACE_ROLES.length]!
    facts.setGrant(ORG, { workspaceId: 'ws_a', type: 'member', id: `mem_${i}` }, [role])
  }
  facts.setGrant(ORG, { workspaceId: 'ws_a', type: 'group', id: 'grp_all' }, ['user'])
  // No decision cache: warm repeats would be cache hits (≈ 1 µs), and this measures how fast
  // Cedar decides right after a cold start against the same work once the wasm has tiered up.
  const service = new DecisionService(facts, { maxCachedDecisions: 0 })
  const now = new Date()
  const one = async (i: number) => {
    const started = process.hrtime.bigint()
    await service.authorize(
      ORG,
      {
        principal: { type: 'Member', id: `mem_${i % MEMBERS}` },
        action: ACTIONS[i % ACTIONS.length]!,
        resource: { type: 'Workspace', id: 'ws_a' },
        context: { model: 'claude-sonnet-4' },
      },
      now
    )
    return Number(process.hrtime.bigint() - started) / 1000
  }
  const firsts: number[] = []
  for (let i = 0; i < first; i++) firsts.push(await one(i))
  for (let i = 0; i < between; i++) await one(i)
  const warms: number[] = []
  for (let i = 0; i < warm; i++) warms.push(await one(i))
  return { first: firsts, warm: warms }
}
