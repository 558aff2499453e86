import { describe, expect, it } from 'vitest'
import { MAX_NESTING_DEPTH } from '../lib/group-nesting.js'
import { DecisionService, type ProductRequest } from './decisions.js'
import { MemoryDecisionFacts } from './memory-facts.js'

/**
 * The decision service over the in-memory read port: Cedar decides, no table is involved. What
 * the service asks of the port (and how it batches it) is what the store adapter would be asked.
 */
const ORG = 'org_1'
const WS = 'ws_1'
const NOW = new Date('2026-11-27T10:00:00.000Z')

function organization() {
  const facts = new MemoryDecisionFacts()
  facts.setOrganization(ORG, { suspended: false, sellsChatSeats: false })
  facts.setWorkspace(ORG, { id: WS, archived: false, isDefault: false })
  return facts
}

function member(facts: MemoryDecisionFacts, id: string, groupIds: string[] = []) {
  facts.setMember(ORG, { id, status: 'active', orgRole: 'member', groupIds, seats: [] })
}

/** g[0] ⊂ g[1] ⊂ … ⊂ g[n-1]; returns the ids. */
function chain(facts: MemoryDecisionFacts, n: number): string[] {
  const ids = Array.from({ length: n }, (_, i) => `grp_${i}`)
  ids.forEach((id, i) => {
    facts.setGroup(ORG, { id, orgRole: null, parentIds: i + 1 < n ? [ids[i + 1]!] : [] })
  })
  return ids
}

const ask = (action: string, principal = 'mem_1'): ProductRequest => ({
  principal: { type: 'Member', id: principal },
  action,
  resource: { type: 'Workspace', id: WS },
})

describe('DecisionService over the in-memory port', () => {
  it('decides from the facts, reading one batch plus one per nesting level', async () => {
    const facts = organization()
    const [team, company] = chain(facts, 2)
    member(facts, 'mem_1', [team!])
    facts.setGrant(ORG, { workspaceId: WS, type: 'group', id: company! }, ['dev'])
    const service = new DecisionService(facts)

    const allowed = await service.authorize(ORG, ask('use_studio'), NOW)
    expect(allowed).toMatchObject({
      decision: 'allow',
      determining_policies: [{ policy_id: 'ws-dev' }],
      errors: [],
    })
    expect(facts.revisionReads).toEqual([ORG])
    expect(facts.reads.map((r) => r.request)).toEqual([
      {
        organization: true,
        workspaces: [WS],
        workspaceBudgets: [WS],
        members: ['mem_1'],
        groups: [],
        apiKeys: [],
        grants: [{ workspaceId: WS, type: 'member', id: 'mem_1' }],
      },
      expect.objectContaining({
        groups: [team],
        grants: [{ workspaceId: WS, type: 'group', id: team }],
      }),
      expect.objectContaining({
        groups: [company],
        grants: [{ workspaceId: WS, type: 'group', id: company }],
      }),
    ])
    // Cached: another action of the same member reads nothing.
    expect((await service.authorize(ORG, ask('use_chat'), NOW)).decision).toBe('deny')
    expect(facts.reads).toHaveLength(3)
  })

  it('tells an unknown organization from the same read as the request facts', async () => {
    const facts = organization()
    member(facts, 'mem_1')
    const service = new DecisionService(facts)

    expect(await service.authorizeIfKnown('org_missing', ask('use_chat'), NOW)).toBeNull()
    expect(await service.authorizeManyIfKnown('org_missing', [ask('use_chat')], NOW)).toBeNull()
    expect(facts.reads.filter((r) => r.organizationId === 'org_missing')).toHaveLength(1)

    const decision = await service.authorizeIfKnown(ORG, ask('use_chat'), NOW)
    expect(decision).toMatchObject({ decision: 'deny', errors: [] })
    const reads = facts.reads.filter((r) => r.organizationId === ORG)
    expect(reads).toHaveLength(1)
    expect(reads[0]!.request).toMatchObject({ organization: true, members: ['mem_1'] })
    // A batch with no request to decide still learns whether the organization exists.
    expect(await service.authorizeManyIfKnown(ORG, [], NOW)).toEqual([])
  })

  it('sees a change made through this process at once, another one after revisionCheckMs', async () => {
    let clock = 0
    const facts = organization()
    member(facts, 'mem_1')
    const grant = { workspaceId: WS, type: 'member' as const, id: 'mem_1' }
    facts.setGrant(ORG, grant, ['billing'])
    const service = new DecisionService(facts, { revisionCheckMs: 1000, now: () => clock })
    expect((await service.authorize(ORG, ask('read_usage'), NOW)).decision).toBe('allow')

    facts.setGrant(ORG, grant, [])
    expect((await service.authorize(ORG, ask('read_usage'), NOW)).decision).toBe('deny')

    facts.setGrant(ORG, grant, ['billing'], { elsewhere: true })
    clock += 999
    expect((await service.authorize(ORG, ask('read_usage'), NOW)).decision).toBe('deny')
    clock += 1
    expect((await service.authorize(ORG, ask('read_usage'), NOW)).decision).toBe('allow')
  })

  it('follows the deepest nesting the Admin API allows, and a cycle ends the walk', async () => {
    const facts = organization()
    const ids = chain(facts, MAX_NESTING_DEPTH)
    member(facts, 'mem_1', [ids[0]!])
    facts.setGrant(ORG, { workspaceId: WS, type: 'group', id: ids.at(-1)! }, ['dev'])
    const service = new DecisionService(facts)
    expect((await service.authorize(ORG, ask('use_studio'), NOW)).decision).toBe('allow')
    expect(facts.reads).toHaveLength(1 + MAX_NESTING_DEPTH)

    // The top group nested back into the bottom one (the Admin API refuses it): the walk ends
    // with each group read once, and Cedar denies, naming the cycle.
    facts.setGroup(ORG, { id: ids.at(-1)!, orgRole: null, parentIds: [ids[0]!] })
    const before = facts.reads.length
    const cyclic = await service.authorize(ORG, ask('use_studio'), NOW)
    expect(cyclic.decision).toBe('deny')
    expect(cyclic.errors[0]?.message).toMatch(/cycle/)
    const groupsRead = facts.reads.slice(before).flatMap((r) => r.request.groups ?? [])
    expect(groupsRead.sort()).toEqual([...ids].sort())
  })

  it('decides an API key, and one owned by a deactivated member is denied', async () => {
    const facts = organization()
    facts.setMember(ORG, {
      id: 'mem_off',
      status: 'deactivated',
      orgRole: 'member',
      groupIds: [],
      seats: [],
    })
    const key = (id: string, memberId: string | null) =>
      facts.setApiKey(ORG, { id, status: 'active', expiresAt: null, workspaceId: WS, memberId })
    key('key_plain', null)
    key('key_owned', 'mem_off')
    const service = new DecisionService(facts)
    const invoke = (id: string): ProductRequest => ({
      principal: { type: 'ApiKey', id },
      action: 'invoke_model',
      resource: { type: 'Workspace', id: WS },
    })
    expect((await service.authorize(ORG, invoke('key_plain'), NOW)).decision).toBe('allow')
    expect((await service.authorize(ORG, invoke('key_owned'), NOW)).decision).toBe('deny')
    expect((await service.authorize(ORG, invoke('key_gone'), NOW)).errors).toEqual([
      { code: 'unknown_principal', message: `No API key 'key_gone' in organization '${ORG}'.` },
    ])
  })

  it('applies the organization custom policies, re-read when they change', async () => {
    const facts = organization()
    member(facts, 'mem_1')
    const service = new DecisionService(facts)
    expect((await service.authorize(ORG, ask('use_chat'), NOW)).decision).toBe('deny')
    facts.setPolicies(ORG, [
      {
        id: 'everyone-chats',
        object: 'policy',
        organization_id: ORG,
        source: 'custom',
        description: 'Everyone may chat',
        effect: 'permit',
        cedar: 'permit (principal, action == Action::"use_chat", resource);',
        created_at: NOW.toISOString(),
        updated_at: NOW.toISOString(),
        version: 1,
      },
    ])
    expect(await service.authorize(ORG, ask('use_chat'), NOW)).toMatchObject({
      decision: 'allow',
      determining_policies: [{ policy_id: 'everyone-chats', description: 'Everyone may chat' }],
    })
  })
})
