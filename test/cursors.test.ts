import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { as, type Caller, email } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey } from './helpers/usage.js'

/**
 * Every list route's cursor is opaque and tamper-evident (issue 10, item 3): a cursor the
 * server did not issue, altered, issued by another route, for another organization or for
 * other filters is a 400 `invalid_request` naming the cursor parameter — never a 500 — and a
 * genuine cursor still pages through the list exactly once.
 */

interface ListRoute {
  name: string
  /** The first page's path (with the route's filters), for an organization's fixture. */
  path: (org: OrgFixture) => string
  /** The same list with other filters (undefined: the route has none). */
  otherFilters?: (org: OrgFixture) => string
  /** Operator routes span the deployment: there is no other organization to try. */
  operator?: boolean
  /** The cursor parameter and where the next one is returned (reports: `page`). */
  cursor?: 'after' | 'page'
  /** The largest page the route serves (to read the whole list at once). */
  maxLimit?: number
  /** Which items a page holds (reports page by bucket). */
  items?: (body: { data: { id?: string; starting_at?: string }[] }) => string[]
}

interface OrgFixture {
  id: string
  api: Caller
  groupId: string
  otherGroupId: string
  workspaceId: string
}

let h: Harness
let orgA: OrgFixture
let orgB: OrgFixture

/** Two of everything each list shows, so that every list has a second page at limit=1. */
async function seed(name: string): Promise<OrgFixture> {
  const org = await createOrg(h, name)
  const api = as(h, org.adminKey)
  const workspaceId = (await api.create('/v1/workspaces', { name: 'Second' })).id
  await api.create('/v1/admin-keys', { name: 'second', org_roles: ['member'] })
  const groupId = (await api.create('/v1/groups', { name: 'team' })).id
  const otherGroupId = (await api.create('/v1/groups', { name: 'other team' })).id
  for (let i = 0; i < 2; i++) {
    const member = await api.create('/v1/members', {
      email: email(),
      name: `Member ${i}`,
      workspaces: [{ workspace_id: workspaceId, roles: ['dev'] }],
    })
    await api.create(`/v1/groups/${groupId}/members/${member.id}`, undefined, 'PUT')
    await api.create('/v1/invites', { email: email('invited') })
    await api.create('/v1/api-keys', { name: `key ${i}`, workspace_id: workspaceId })
    await api.create('/v1/scim-tokens', { name: `idp ${i}` })
  }
  return { id: org.id, api, groupId, otherGroupId, workspaceId }
}

const byId = (body: { data: { id?: string }[] }) => body.data.map((item) => String(item.id))

const ROUTES: ListRoute[] = [
  { name: 'organizations', path: () => '/v1/organizations', operator: true },
  { name: 'service keys', path: () => '/v1/service-keys', operator: true },
  {
    name: 'workspaces',
    path: () => '/v1/workspaces?status=active',
    otherFilters: () => '/v1/workspaces?status=archived',
  },
  { name: 'admin keys', path: () => '/v1/admin-keys' },
  {
    name: 'audit events',
    path: () => '/v1/audit-events?event_type=member.created',
    otherFilters: () => '/v1/audit-events?event_type=group.created',
  },
  {
    name: 'members',
    path: () => '/v1/members?status=active',
    otherFilters: () => '/v1/members?status=deactivated',
  },
  {
    name: 'invites',
    path: () => '/v1/invites?status=pending',
    otherFilters: () => '/v1/invites?status=accepted',
  },
  { name: 'groups', path: () => '/v1/groups' },
  {
    name: 'group members',
    path: (org) => `/v1/groups/${org.groupId}/members`,
    // Another group of the same organization is another list.
    otherFilters: (org) => `/v1/groups/${org.otherGroupId}/members`,
  },
  { name: 'workspace access', path: (org) => `/v1/workspaces/${org.workspaceId}/access` },
  {
    name: 'api keys',
    path: (org) => `/v1/api-keys?workspace_id=${org.workspaceId}`,
    otherFilters: (org) => `/v1/api-keys?workspace_id=${org.workspaceId}&status=active`,
  },
  { name: 'budgets', path: () => '/v1/budgets' },
  { name: 'policies', path: () => '/v1/policies' },
  { name: 'scim tokens', path: () => '/v1/scim-tokens' },
  ...(['usage', 'costs'] as const).map(
    (report): ListRoute => ({
      name: `${report} report`,
      path: () => `/v1/${report}?starting_at=2026-11-20T00:00:00Z&ending_at=2026-11-24T00:00:00Z`,
      otherFilters: () =>
        `/v1/${report}?starting_at=2026-11-20T00:00:00Z&ending_at=2026-11-24T00:00:00Z&model=opus`,
      cursor: 'page',
      maxLimit: 31,
      items: (body) => body.data.map((bucket) => String(bucket.starting_at)),
    })
  ),
]

function callerFor(route: ListRoute, org: OrgFixture) {
  return route.operator ? as(h, h.operatorKey) : org.api
}

const withParam = (path: string, name: string, value: string) =>
  `${path}${path.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}`

/** The cursor of the first page at limit=1 (there is always a second page). */
async function firstCursor(route: ListRoute, org: OrgFixture, path = route.path(org)) {
  const res = await callerFor(route, org).get(withParam(path, 'limit', '1'))
  expect(res.status, `${route.name}: ${res.text}`).toBe(200)
  const cursor = route.cursor === 'page' ? res.body.next_page : res.body.next_cursor
  expect(typeof cursor, `${route.name} has a second page`).toBe('string')
  return cursor as string
}

async function pageWith(route: ListRoute, org: OrgFixture, path: string, cursor: string) {
  return callerFor(route, org).get(
    withParam(withParam(path, 'limit', '1'), route.cursor ?? 'after', cursor)
  )
}

/** Flips one bit of the character at `index` (staying in the base64url alphabet if possible). */
function flip(cursor: string, index: number): string {
  const ch = cursor[index]!
  const flipped = String.fromCharCode(ch.charCodeAt(0) ^ 1)
  return cursor.slice(0, index) + flipped + cursor.slice(index + 1)
}

/**
 * Rewrites the position inside a cursor (whatever its format: the table key, a policy id, a
 * report bucket) to one outside the list, keeping the rest — what a client forging a cursor
 * from a genuine one would do.
 */
function editPosition(cursor: string): string {
  const parts = cursor.split('.')
  const index = parts.length === 3 ? 1 : 0
  const decode = (text: string) => Buffer.from(text, 'base64url').toString('utf8')
  const encode = (text: string) => Buffer.from(text, 'utf8').toString('base64url')
  // The position may be wrapped in more than one layer of base64url.
  let layers = 1
  let text = decode(parts[index]!)
  while (!text.startsWith('{')) {
    text = decode(text)
    layers++
  }
  const position = JSON.parse(text)
  if (position.k) position.k = { ...position.k, SK: 'ZZZZ#outside-the-list' }
  if (position.id) position.id = 'zzzz'
  if (position.t) position.t = '2026-11-23T00:00:00.000Z'
  text = JSON.stringify(position)
  for (let i = 0; i < layers; i++) text = encode(text)
  parts[index] = text
  return parts.join('.')
}

beforeAll(async () => {
  h = await startHarness()
  orgA = await seed('Alpha')
  orgB = await seed('Beta')
  await createServiceKey(h, 'one')
  await createServiceKey(h, 'two')
})
afterAll(() => h.close())

describe.each(ROUTES)('$name', (route) => {
  const param = route.cursor ?? 'after'

  it('pages through the whole list with its own cursors, each item once', async () => {
    const api = callerFor(route, orgA)
    const all = await api.get(withParam(route.path(orgA), 'limit', String(route.maxLimit ?? 100)))
    expect(all.status, all.text).toBe(200)
    const items = route.items ?? byId
    const seen: string[] = []
    let cursor: string | null = null
    for (let pages = 0; pages < 200; pages++) {
      const res: Awaited<ReturnType<Caller['get']>> = cursor
        ? await pageWith(route, orgA, route.path(orgA), cursor)
        : await api.get(withParam(route.path(orgA), 'limit', '1'))
      expect(res.status, res.text).toBe(200)
      seen.push(...items(res.body))
      cursor = route.cursor === 'page' ? res.body.next_page : res.body.next_cursor
      if (!cursor) break
    }
    expect(seen.length).toBeGreaterThan(1)
    expect(seen).toEqual(items(all.body))
  })

  const refusals: [string, () => Promise<string>][] = [
    ['garbage', async () => 'not-a-cursor'],
    [
      'a forged table key in the old unsigned format',
      async () =>
        Buffer.from(
          JSON.stringify({ l: `workspaces:${orgA.id}`, k: { PK: `ORG#${orgA.id}`, SK: 'ZZZ' } })
        ).toString('base64url'),
    ],
    [
      'a genuine cursor whose position was edited to another table key',
      async () => editPosition(await firstCursor(route, orgA)),
    ],
    ['a truncated cursor', async () => (await firstCursor(route, orgA)).slice(0, -3)],
    [
      'a cursor with a bit flipped in its position',
      async () => flip(await firstCursor(route, orgA), 4),
    ],
    [
      'a cursor with a bit flipped in its signature',
      async () => {
        const cursor = await firstCursor(route, orgA)
        return flip(cursor, cursor.length - 2)
      },
    ],
    [
      'a cursor of another list route',
      async () => {
        const other = ROUTES.find(
          (candidate) =>
            candidate !== route &&
            !candidate.operator === !route.operator &&
            (candidate.cursor ?? 'after') === param
        )!
        return firstCursor(other, orgA)
      },
    ],
  ]

  it.each(refusals)('refuses %s with 400 naming the cursor', async (_what, cursorOf) => {
    const cursor = await cursorOf()
    const res = await pageWith(route, orgA, route.path(orgA), cursor)
    expect(res.status, res.text).toBe(400)
    expect(res.body.error).toMatchObject({ type: 'invalid_request', param })
    expect(typeof res.body.error.request_id).toBe('string')
  })

  // Operator lists span the deployment: there is no other organization's cursor to try.
  if (!route.operator) {
    it("refuses another organization's cursor for the same list", async () => {
      const theirs = await firstCursor(route, orgB)
      const res = await pageWith(route, orgA, route.path(orgA), theirs)
      expect(res.status, res.text).toBe(400)
      expect(res.body.error).toMatchObject({ type: 'invalid_request', param })
    })
  }

  const otherFilters = route.otherFilters
  if (otherFilters) {
    it('refuses a cursor once the filters change', async () => {
      const cursor = await firstCursor(route, orgA)
      const res = await pageWith(route, orgA, otherFilters(orgA), cursor)
      expect(res.status, res.text).toBe(400)
      expect(res.body.error).toMatchObject({ type: 'invalid_request', param })
    })
  }
})
