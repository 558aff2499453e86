import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Db } from '../functions/store/db.js'
import { as, type Caller, email } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey } from './helpers/usage.js'

/**
 * What `/v1/authorize` reads from the table after a change (the organization's cached facts
 * dropped): whether the organization exists comes from the decision's own batch of facts, so
 * a decision about a member in no group costs the revision read and one BatchGetItem of facts
 * (and one of rate limits) besides the caller's credential — and an
 * unknown organization is still a 404, at the same cost.
 */
let h: Harness
let api: Caller
let orgId: string
let ws: string
let memberId: string
let svc: string
let counting = false
let requests: Record<string, number> = {}

beforeAll(async () => {
  h = await startHarness({
    makeDb: (doc, tableName) => {
      const counted = new Proxy(doc, {
        get(target, property, receiver) {
          if (property === 'send') {
            return (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
              // The caller's credential is not the organization's data: it is cached for up to
              // 1 s of real time (docs/hot-path.md), so whether it is read here depends on timing.
              const credential = String(
                (command.input as { Key?: { PK?: unknown } }).Key?.PK ?? ''
              ).startsWith('CRED#')
              if (counting && !credential) {
                const name = command.constructor.name.replace('Command', '')
                requests[name] = (requests[name] ?? 0) + 1
              }
              return target.send(command)
            }
          }
          return Reflect.get(target, property, receiver)
        },
      })
      return new Db(counted, tableName)
    },
  })
  const org = await createOrg(h)
  orgId = org.id
  api = as(h, org.adminKey)
  svc = await createServiceKey(h)
  ws = (await api.create('/v1/workspaces', { name: 'Product' })).id
  memberId = (
    await api.create('/v1/members', {
      email: email(),
      name: 'Dev',
      workspaces: [{ workspace_id: ws, roles: ['dev'] }],
    })
  ).id
})
afterAll(() => h.close())

/** The table requests of one call, made right after a change to the organization. */
async function readsOf(path: string, body: unknown) {
  // A change (and its revision bump) drops the organization's cached facts.
  // Reading the decision log writes what it still buffers from earlier decisions: that
  // BatchWriteItem belongs to them, not to the decision measured here (docs/decision-log.md).
  await api.get('/v1/decisions?limit=1')
  await api.patch(`/v1/workspaces/${ws}`, { description: `changed ${Math.random()}` })
  requests = {}
  counting = true
  const res = await h.call('POST', path, { key: svc, body })
  counting = false
  return { res, reads: { ...requests } }
}

/**
 * The revision (GetItem), one batch of facts, and for a consumption action one BatchGetItem of
 * the workspace's rate-limit configuration, read beside the facts and kept with them
 * (docs/rate-limits.md); the caller's credential is left out of the count (see above).
 */
const ONE_DECISION = { Get: 1, BatchGet: 2 }

const ask = () => ({
  principal: { type: 'Member', id: memberId },
  action: 'use_studio',
  resource: { type: 'Workspace', id: ws },
})

describe('the reads of /v1/authorize', () => {
  it('reads the revision and one batch of facts, the organization among them', async () => {
    const { res, reads } = await readsOf('/v1/authorize', { organization_id: orgId, ...ask() })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      decision: 'allow',
      determining_policies: [{ policy_id: 'ws-dev' }],
    })
    expect(reads).toEqual(ONE_DECISION)
  })

  it('does the same for a batch', async () => {
    const { res, reads } = await readsOf('/v1/authorize/batch', {
      organization_id: orgId,
      requests: [ask(), { ...ask(), action: 'use_chat' }],
    })
    expect(res.status).toBe(200)
    expect(res.body.results.map((r: { decision: string }) => r.decision)).toEqual(['allow', 'deny'])
    expect(reads).toEqual(ONE_DECISION)
  })

  it('answers 404 for an unknown organization from that same batch', async () => {
    // Two organizations never seen, so neither is cached.
    for (const [path, missing] of [
      ['/v1/authorize', 'org_01JZZZZZZZZZZZZZZZZZZZZZZY'],
      ['/v1/authorize/batch', 'org_01JZZZZZZZZZZZZZZZZZZZZZZZ'],
    ] as const) {
      const body = path.endsWith('batch')
        ? { organization_id: missing, requests: [ask()] }
        : { organization_id: missing, ...ask() }
      const { res, reads } = await readsOf(path, body)
      expect(res.status, path).toBe(404)
      expect(res.body.error).toMatchObject({
        type: 'not_found',
        param: 'organization_id',
        message: expect.stringContaining(missing),
      })
      expect(reads).toEqual(ONE_DECISION)
    }
  })
})
