import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newId } from '../functions/lib/ids.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/**
 * Admin keys, SCIM tokens and service keys are served by one route factory over one domain
 * kind (functions/app/http/secret-holders.ts, functions/domain/keys.ts): each kind must keep
 * the same life cycle, and what tells them apart (who manages them, whose audit log sees
 * them, which organization owns them) must survive the sharing.
 */

let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let other: Awaited<ReturnType<typeof createOrg>>

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h, 'Owner')
  other = await createOrg(h, 'Other')
})
afterAll(() => h.close())

interface Kind {
  name: string
  path: string
  prefix: string
  idKind: 'adminKey' | 'scimToken' | 'serviceKey'
  body: Record<string, unknown>
  /** The credential that manages this kind. */
  manager: () => string
  /** The audit target type in the organization's log; none for deployment-wide keys. */
  audited: string | undefined
  /** What GET /v1/organization answers the active secret (admin: 200; others: wrong kind, 403). */
  activeStatus: number
}

const KINDS: Kind[] = [
  {
    name: 'admin keys',
    path: '/v1/admin-keys',
    prefix: 'adm_',
    idKind: 'adminKey',
    body: { name: 'ci', org_roles: ['member'] },
    manager: () => org.adminKey,
    audited: 'admin_key',
    activeStatus: 200,
  },
  {
    name: 'SCIM tokens',
    path: '/v1/scim-tokens',
    prefix: 'scim_',
    idKind: 'scimToken',
    body: { name: 'Okta' },
    manager: () => org.adminKey,
    audited: 'scim_token',
    activeStatus: 403,
  },
  {
    name: 'service keys',
    path: '/v1/service-keys',
    prefix: 'svc_',
    idKind: 'serviceKey',
    body: { name: 'chat' },
    manager: () => h.operatorKey,
    audited: undefined,
    activeStatus: 403,
  },
]

async function auditOf(targetId: string) {
  const res = await h.call('GET', `/v1/audit-events?target_id=${targetId}&limit=100`, {
    key: org.adminKey,
  })
  expect(res.status).toBe(200)
  return (res.body.data as { event_type: string }[]).map((event) => event.event_type)
}

describe.each(KINDS)('$name', (kind) => {
  it('show the secret once, list without it, revoke at once (twice changes nothing)', async () => {
    const created = await h.call('POST', kind.path, { key: kind.manager(), body: kind.body })
    expect(created.status).toBe(201)
    const { secret, ...record } = created.body
    expect(secret.startsWith(kind.prefix)).toBe(true)
    expect(record).toMatchObject({ status: 'active', revoked_at: null, name: kind.body.name })
    expect(record.redacted_value).toBe(`${kind.prefix}...${secret.slice(-4)}`)

    const list = await h.call('GET', `${kind.path}?limit=100`, { key: kind.manager() })
    expect(list.status).toBe(200)
    expect(list.body.data).toContainEqual(record)
    expect(JSON.stringify(list.body)).not.toContain(secret)

    expect((await h.call('GET', '/v1/organization', { key: secret })).status).toBe(
      kind.activeStatus
    )
    const revoked = await h.call('DELETE', `${kind.path}/${record.id}`, { key: kind.manager() })
    expect(revoked.status).toBe(200)
    expect(revoked.body).toEqual({
      ...record,
      status: 'revoked',
      revoked_at: expect.any(String),
    })
    expect((await h.call('GET', '/v1/organization', { key: secret })).status).toBe(401)
    const again = await h.call('DELETE', `${kind.path}/${record.id}`, { key: kind.manager() })
    expect(again.status).toBe(200)
    expect(again.body).toEqual(revoked.body)

    expect((await auditOf(record.id)).sort()).toEqual(
      kind.audited ? [`${kind.audited}.created`, `${kind.audited}.revoked`] : []
    )
  })

  it('404 an unknown id in the contract shape, naming the id', async () => {
    const id = newId(kind.idKind)
    const res = await h.call('DELETE', `${kind.path}/${id}`, { key: kind.manager() })
    expect(res.status).toBe(404)
    expect(res.body.error).toMatchObject({ type: 'not_found', param: 'id' })
    expect(res.body.error.message).toContain(id)
  })

  it('replay a creation with the same Idempotency-Key', async () => {
    const options = {
      key: kind.manager(),
      body: kind.body,
      headers: { 'idempotency-key': `same-${kind.idKind}` },
    }
    const first = await h.call('POST', kind.path, options)
    const replay = await h.call('POST', kind.path, options)
    expect(first.status).toBe(201)
    expect(replay.status).toBe(201)
    expect(replay.body).toEqual(first.body)
  })
})

describe.each(KINDS.filter((kind) => kind.audited))('$name of one organization', (kind) => {
  it('are neither listed to nor revocable by another organization', async () => {
    const created = await h.call('POST', kind.path, { key: org.adminKey, body: kind.body })
    const theirs = await h.call('GET', `${kind.path}?limit=100`, { key: other.adminKey })
    expect(theirs.body.data.map((held: { id: string }) => held.id)).not.toContain(created.body.id)
    const revoke = await h.call('DELETE', `${kind.path}/${created.body.id}`, {
      key: other.adminKey,
    })
    expect(revoke.status).toBe(404)
    const mine = await h.call('GET', `${kind.path}?limit=100`, { key: org.adminKey })
    expect(mine.body.data).toContainEqual({ ...created.body, secret: undefined })
  })
})

it('service keys are managed by the operator key only', async () => {
  for (const [method, path] of [
    ['GET', '/v1/service-keys'],
    ['POST', '/v1/service-keys'],
    ['DELETE', `/v1/service-keys/${newId('serviceKey')}`],
  ] as const) {
    const body = method === 'POST' ? { name: 'x' } : undefined
    const res = await h.call(method, path, { key: org.adminKey, body })
    expect(res.status).toBe(403)
  }
})
