import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseIfMatch } from '../functions/app/http/handlers.js'
import { as, type Caller, email, listAll } from './helpers/admin-model.js'
import { type ApiResponse, createOrg, type Harness, startHarness } from './helpers/harness.js'
import {
  createScimToken,
  expectScimError,
  newUser,
  type ScimClient,
  scimClient,
} from './helpers/scim.js'

/**
 * Bad input answers 4xx in the contract's shape (SCIM's on /scim/v2) and changes nothing:
 * over-long ids and filter values, malformed and unmatchable If-Match, wrong media types,
 * strings that are not valid Unicode, query parameters given twice.
 */
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let api: Caller
let scim: ScimClient
let scimToken: string
let ws: string

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  api = as(h, org.adminKey)
  scimToken = (await createScimToken(h, org.adminKey)).secret
  scim = scimClient(h, scimToken)
  ws = (await api.create('/v1/workspaces', { name: 'Studio' })).id
})
afterAll(() => h.close())

/** 1.5 KiB: over DynamoDB's 1,024-byte sort key once it is part of a key. */
const LONG = 'x'.repeat(1536)

function expectError(res: ApiResponse, status: number, type: string, param?: string | null) {
  expect(res.status, res.text).toBe(status)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  expect(Object.keys(res.body)).toEqual(['error'])
  expect(res.body.error).toMatchObject({ type, request_id: res.headers.get('x-request-id') })
  expect(typeof res.body.error.message).toBe('string')
  expect(res.body.error).toHaveProperty('param')
  if (param !== undefined) expect(res.body.error.param).toBe(param)
}

async function auditCount(): Promise<number> {
  return (await listAll(api, '/v1/audit-events')).length
}

describe('SCIM: ids and filter values that no resource can have', () => {
  it('an id over 1 KiB (or of another format) on every /Users and /Groups item route → 404', async () => {
    const user = (await scim.post('/Users', newUser(email('scim')))).body
    const before = await auditCount()
    for (const id of [LONG, 'not-an-id', `${user.id}x`]) {
      for (const collection of ['Users', 'Groups']) {
        expectScimError(await scim.get(`/${collection}/${id}`), 404)
        expectScimError(await scim.delete(`/${collection}/${id}`), 404)
        expectScimError(
          await scim.patch(`/${collection}/${id}`, [
            { op: 'replace', path: 'displayName', value: 'x' },
          ]),
          404
        )
      }
      expectScimError(await scim.put(`/Users/${id}`, newUser(email('scim'))), 404)
      expectScimError(
        await scim.put(`/Groups/${id}`, {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
          displayName: 'G',
        }),
        404
      )
    }
    expect((await scim.get(`/Users/${user.id}`)).status).toBe(200)
    expect(await auditCount()).toBe(before)
  })

  it('a comparison value longer than the attribute can hold → 400 invalidFilter', async () => {
    const filters = [
      ['Users', `userName eq "${LONG}@example.com"`],
      ['Users', `id eq "${LONG}"`],
      ['Users', `externalId eq "${LONG}"`],
      ['Users', `emails[value eq "${LONG}"]`],
      ['Users', `displayName co "${LONG}"`],
      ['Groups', `displayName eq "${LONG}"`],
      ['Groups', `id eq "${LONG}"`],
      ['Groups', `externalId eq "${LONG}"`],
    ] as const
    for (const [collection, filter] of filters) {
      expectScimError(
        await scim.get(`/${collection}?filter=${encodeURIComponent(filter)}`),
        400,
        'invalidFilter'
      )
    }
  })

  it('wrongly typed values and deep nesting → 400 invalidFilter, not an empty 200', async () => {
    const userName = email('typed')
    await scim.post('/Users', newUser(userName))
    const bad = [
      'active eq "yes"',
      'userName eq 5',
      'userName eq true',
      'userName eq null',
      'emails.primary eq "true"',
      'meta.created gt "yesterday"',
      'meta.lastModified ge 1700000000',
      `${'('.repeat(2000)}userName eq "${userName}"${')'.repeat(2000)}`,
      `${'not ('.repeat(20)}active eq true${')'.repeat(20)}`,
      `userName eq "${userName}" or ${'userName eq "a@b.co" or '.repeat(200)}active eq true`,
    ]
    for (const filter of bad) {
      expectScimError(
        await scim.get(`/Users?filter=${encodeURIComponent(filter)}`),
        400,
        'invalidFilter'
      )
    }
    // Shallow nesting and well-typed values still work.
    const ok = await scim.get(
      `/Users?filter=${encodeURIComponent(`((userName eq "${userName}") and (active eq true)) and meta.created gt "2000-01-01T00:00:00Z"`)}`
    )
    expect(ok.status, ok.text).toBe(200)
    expect(ok.body.Resources.map((u: { userName: string }) => u.userName)).toEqual([userName])
    // Brackets inside a quoted value are not nesting.
    const quoted = await scim.get(
      `/Users?filter=${encodeURIComponent(`displayName eq "${'(['.repeat(40)}\\"${')'.repeat(40)}"`)}`
    )
    expect(quoted.status, quoted.text).toBe(200)
    expect(quoted.body.totalResults).toBe(0)
  })

  it('a lone surrogate in a SCIM body → 400 invalidValue, nothing created', async () => {
    const before = await auditCount()
    const res = await scim.send(
      'POST',
      '/Users',
      JSON.stringify(newUser(email('lone'))).replace('"Tester"', '"Te\\ud800ster"')
    )
    expectScimError(res, 400, 'invalidValue')
    expect(await auditCount()).toBe(before)
  })
})

describe('values at their longest, in the widest UTF-8, still fit every key', () => {
  // '€' is 3 bytes in UTF-8; 'İ' lower-cases to two code units (3 bytes) for the name claims.
  it('group names, emails, externalIds and filter values at their maximum length → 2xx, not 500', async () => {
    const name = 'İ'.repeat(200)
    expect((await api.post('/v1/groups', { name })).status).toBe(201)
    expect((await api.post('/v1/groups', { name })).status).toBe(409)
    const byEmail = await api.get(`/v1/members?email=${encodeURIComponent('€'.repeat(320))}`)
    expect(byEmail.status, byEmail.text).toBe(200)
    const externalId = '€'.repeat(256)
    const created = await scim.post('/Users', newUser(email('wide'), { externalId }))
    expect(created.status, created.text).toBe(201)
    const found = await scim.get(
      `/Users?filter=${encodeURIComponent(`externalId eq "${externalId}"`)}`
    )
    expect(found.body.Resources.map((u: { id: string }) => u.id)).toEqual([created.body.id])
    for (const filter of [
      `userName eq "${'€'.repeat(320)}"`,
      `emails.value eq "${'€'.repeat(320)}"`,
      `id eq "${'€'.repeat(30)}"`,
    ]) {
      const res = await scim.get(`/Users?filter=${encodeURIComponent(filter)}`)
      expect(res.status, res.text).toBe(200)
      expect(res.body.totalResults).toBe(0)
    }
    const group = await scim.post('/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: `${'İ'.repeat(199)}x`,
      externalId,
    })
    expect(group.status, group.text).toBe(201)
    const byName = await scim.get(
      `/Groups?filter=${encodeURIComponent(`displayName eq "${'İ'.repeat(199)}x"`)}`
    )
    expect(byName.body.Resources.map((g: { id: string }) => g.id)).toEqual([group.body.id])
  })
})

describe('Admin API: path ids have one format', () => {
  it('an id over 1 KiB or of another format → 404 naming the parameter, before any read', async () => {
    const member = await api.create('/v1/members', { email: email(), name: 'M' })
    const group = await api.create('/v1/groups', { name: 'Hostile G' })
    const before = await auditCount()
    const cases: [string, string, string][] = [
      ['GET', `/v1/workspaces/${LONG}`, 'id'],
      ['PATCH', `/v1/workspaces/${LONG}`, 'id'],
      ['GET', `/v1/members/${LONG}`, 'id'],
      ['DELETE', `/v1/members/${LONG}`, 'id'],
      ['GET', `/v1/groups/${LONG}`, 'id'],
      ['PUT', `/v1/groups/${group.id}/members/${LONG}`, 'member_id'],
      ['PUT', `/v1/groups/${group.id}/subgroups/${LONG}`, 'group_id'],
      ['GET', `/v1/api-keys/${LONG}`, 'id'],
      ['DELETE', `/v1/admin-keys/${LONG}`, 'id'],
      ['DELETE', `/v1/invites/${LONG}`, 'id'],
      ['DELETE', `/v1/scim-tokens/${LONG}`, 'id'],
      ['PUT', `/v1/workspaces/${ws}/access/members/${LONG}`, 'member_id'],
      ['DELETE', `/v1/workspaces/${ws}/access/groups/${LONG}`, 'group_id'],
      ['PUT', `/v1/workspaces/${LONG}/access/members/${member.id}`, 'id'],
      // A member id where a workspace id belongs: well formed, but of the wrong kind.
      ['GET', `/v1/workspaces/${member.id}`, 'id'],
      ['PUT', `/v1/members/${ws}/seats/chat`, 'id'],
    ]
    for (const [method, path, param] of cases) {
      const body =
        method === 'PUT' || method === 'PATCH' ? { roles: ['user'], name: 'x' } : undefined
      const res = await api.send(method, path, body)
      expectError(res, 404, 'not_found', param)
    }
    const operator = as(h, h.operatorKey)
    expectError(await operator.get(`/v1/organizations/${LONG}`), 404, 'not_found', 'id')
    expectError(await operator.delete(`/v1/service-keys/${LONG}`), 404, 'not_found', 'id')
    expect(await auditCount()).toBe(before)
  })
})

describe('If-Match (RFC 9110 §13.1.1)', () => {
  it('parses * and entity-tag lists; anything else is invalid', () => {
    expect(parseIfMatch('*')).toEqual({ any: true })
    expect(parseIfMatch(' "3" ')).toEqual({ any: false, tags: [{ weak: false, opaque: '3' }] })
    expect(parseIfMatch('W/"3", "nope" ,,')).toEqual({
      any: false,
      tags: [
        { weak: true, opaque: '3' },
        { weak: false, opaque: 'nope' },
      ],
    })
    expect(parseIfMatch('""')).toEqual({ any: false, tags: [{ weak: false, opaque: '' }] })
    for (const invalid of ['3', 'nope', '"a"b"', '"3', 'w/"3"', '*, "3"', '"a b"', 'W/ "3"']) {
      expect(parseIfMatch(invalid), invalid).toBeUndefined()
    }
  })

  it('PATCH: a well-formed ETag that does not match → 412; a malformed one → 400; * and a match proceed', async () => {
    const created = await api.create('/v1/workspaces', { name: 'Versioned' })
    const path = `/v1/workspaces/${created.id}`
    for (const tag of ['"nope"', '"2"', 'W/"0"', '"01"', '""', '"nope", "also-nope"']) {
      const res = await api.patch(path, { name: 'Stale' }, { 'if-match': tag })
      expectError(res, 412, 'precondition_failed', 'If-Match')
    }
    for (const tag of ['nope', '1', '"1', '*, "1"']) {
      expectError(
        await api.patch(path, { name: 'Bad' }, { 'if-match': tag }),
        400,
        'invalid_request',
        'If-Match'
      )
    }
    expect((await api.get(path)).body).toMatchObject({ name: 'Versioned', version: 1 })
    const listed = await api.patch(path, { name: 'One' }, { 'if-match': '"nope", "1"' })
    expect(listed.status, listed.text).toBe(200)
    expect(listed.headers.get('etag')).toBe('"2"')
    const any = await api.patch(path, { name: 'Two' }, { 'if-match': '*' })
    expect(any.status, any.text).toBe(200)
    expect(any.body).toMatchObject({ name: 'Two', version: 3 })
    // A resource that does not exist is a 404 whatever If-Match says (RFC 9110 §13.2.1).
    const missing = await api.patch(
      '/v1/workspaces/ws_01JD4V6S9Y3T2WQ7P1J5KX8N0M',
      { name: 'x' },
      {
        'if-match': '"nope"',
      }
    )
    expectError(missing, 404, 'not_found')
  })

  it('the same holds for SCIM (weak ETags)', async () => {
    const user = (await scim.post('/Users', newUser(email('etag')))).body
    const stale = await scim.put(`/Users/${user.id}`, newUser(user.userName), {
      'if-match': 'W/"nope"',
    })
    expectScimError(stale, 412)
    const ok = await scim.put(`/Users/${user.id}`, newUser(user.userName, { displayName: 'New' }), {
      'if-match': user.meta.version,
    })
    expect(ok.status, ok.text).toBe(200)
  })

  it('grant DELETE honours If-Match: malformed → 400, stale → 412 (grant kept), matching → removed', async () => {
    const member = await api.create('/v1/members', { email: email(), name: 'Granted' })
    const group = await api.create('/v1/groups', { name: 'Granted group' })
    for (const [type, id] of [
      ['members', member.id],
      ['groups', group.id],
    ] as const) {
      const path = `/v1/workspaces/${ws}/access/${type}/${id}`
      expect((await api.put(path, { roles: ['user'] })).status).toBe(201)
      expect((await api.put(path, { roles: ['dev'] }, { 'if-match': '"1"' })).status).toBe(200)
      const before = await auditCount()
      expectError(
        await api.delete(path, { 'if-match': 'garbage' }),
        400,
        'invalid_request',
        'If-Match'
      )
      expectError(
        await api.delete(path, { 'if-match': '"1"' }),
        412,
        'precondition_failed',
        'If-Match'
      )
      expectError(await api.delete(path, { 'if-match': '"nope"' }), 412, 'precondition_failed')
      expect(await auditCount()).toBe(before)
      const grants = await listAll<{ principal: { id: string }; version: number }>(
        api,
        `/v1/workspaces/${ws}/access`
      )
      expect(grants.find((g) => g.principal.id === id)?.version).toBe(2)
      const removed = await api.delete(path, { 'if-match': '"2"' })
      expect(removed.status, removed.text).toBe(200)
      expect(await auditCount()).toBe(before + 1)
      expectError(await api.delete(path, { 'if-match': '"2"' }), 404, 'not_found')
    }
  })
})

describe('If-Match before the rules about other scopes', () => {
  it('a stale If-Match on a spend limit → 412 even when the new limit breaks another scope; current → 400', async () => {
    const limited = await api.create('/v1/workspaces', { name: 'Limited' })
    const orgLimit = await api.put('/v1/spend-limit', { monthly_limit: '500.00' })
    expect(orgLimit.status, orgLimit.text).toBe(200)
    const wsLimit = await api.put(`/v1/workspaces/${limited.id}/spend-limit`, {
      monthly_limit: '400.00',
    })
    expect(wsLimit.status, wsLimit.text).toBe(200)
    const version = orgLimit.body.version as number
    const before = await auditCount()
    // Below the workspace's 400.00, so a 400 if the caller's version were current.
    const below = { monthly_limit: '100.00' }
    expectError(
      await api.put('/v1/spend-limit', below, { 'if-match': `"${version + 1}"` }),
      412,
      'precondition_failed'
    )
    expectError(
      await api.put('/v1/spend-limit', below, { 'if-match': `"${version}"` }),
      400,
      'invalid_request',
      'monthly_limit'
    )
    expect(await auditCount()).toBe(before)
  })
})

describe('If-Match on a PUT that can create (a grant)', () => {
  it('* and any tag require the grant to exist: 412 and nothing created; * on an existing grant proceeds', async () => {
    const member = await api.create('/v1/members', { email: email(), name: 'Upsert' })
    const path = `/v1/workspaces/${ws}/access/members/${member.id}`
    const before = await auditCount()
    for (const tag of ['*', '"1"', '"nope"']) {
      expectError(
        await api.put(path, { roles: ['user'] }, { 'if-match': tag }),
        412,
        'precondition_failed',
        'If-Match'
      )
    }
    const grants = await listAll<{ principal: { id: string } }>(api, `/v1/workspaces/${ws}/access`)
    expect(grants.some((g) => g.principal.id === member.id)).toBe(false)
    expect(await auditCount()).toBe(before)
    expect((await api.put(path, { roles: ['user'] })).status).toBe(201)
    const any = await api.put(path, { roles: ['dev'] }, { 'if-match': '*' })
    expect(any.status, any.text).toBe(200)
    expect(any.body).toMatchObject({ roles: ['dev'], version: 2 })
  })

  it('the same for a custom policy: * on a missing policy → 412, nothing created', async () => {
    const path = '/v1/policies/if-match-star'
    const body = {
      cedar:
        'forbid (principal, action == Action::"use_chat", resource)\nwhen { context has model && context.model == "x" };',
    }
    const before = await auditCount()
    for (const tag of ['*', '"1"']) {
      expectError(await api.put(path, body, { 'if-match': tag }), 412, 'precondition_failed')
    }
    expect((await api.get(path)).status).toBe(404)
    expect(await auditCount()).toBe(before)
    expect((await api.put(path, body)).status).toBe(201)
    const any = await api.put(path, { ...body, description: 'now' }, { 'if-match': '*' })
    expect(any.status, any.text).toBe(200)
    expect(any.body).toMatchObject({ description: 'now', version: 2 })
  })
})

describe('media type, Unicode and repeated parameters', () => {
  it('a body that is not JSON → 415 invalid_request naming Content-Type, and the OpenAPI document says so', async () => {
    const before = await auditCount()
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await api.send('POST', '/v1/workspaces', '{"name":"x"}', { 'content-type': type })
      expectError(res, 415, 'invalid_request', 'Content-Type')
    }
    expect(await auditCount()).toBe(before)
    const doc = (await h.call('GET', '/openapi.json')).body
    let withBody = 0
    for (const [path, operations] of Object.entries<Record<string, Record<string, unknown>>>(
      doc.paths
    )) {
      for (const [method, operation] of Object.entries(operations)) {
        if (!operation.requestBody) continue
        withBody++
        const responses = operation.responses as Record<
          string,
          { content: Record<string, { schema: unknown }> }
        >
        expect(responses['415'], `${method} ${path}`).toBeDefined()
        expect(responses['415']!.content['application/json']!.schema).toEqual({
          $ref: '#/components/schemas/Error',
        })
      }
    }
    expect(withBody).toBeGreaterThan(20)
  })

  it('a lone surrogate anywhere in a JSON body → 400 naming the field, nothing written', async () => {
    const before = await auditCount()
    const bodies: [string, string, string][] = [
      ['POST', '/v1/workspaces', '{"name":"a\\ud800b"}'],
      ['POST', '/v1/workspaces', '{"name":"ok","description":"\\udc00"}'],
      ['PATCH', `/v1/workspaces/${ws}`, '{"name":"\\ud83d"}'],
      ['POST', '/v1/groups', '{"name":"x\\udfff"}'],
    ]
    for (const [method, path, body] of bodies) {
      const res = await api.send(method, path, body)
      expectError(res, 400, 'invalid_request')
      expect(res.body.error.message).toMatch(/Unicode/)
    }
    expect(await auditCount()).toBe(before)
    // A well-formed pair (an emoji) is fine.
    const emoji = await api.send('POST', '/v1/workspaces', '{"name":"Rocket \\ud83d\\ude80"}')
    expect(emoji.status, emoji.text).toBe(201)
    expect(emoji.body.name).toBe('Rocket 🚀')
  })

  it('a JSON body that is not UTF-8 → 400 (SCIM: invalidSyntax), nothing written', async () => {
    const before = await auditCount()
    // "name":"caf\xe9" in Latin-1, and a truncated 3-byte sequence.
    const latin1 = Uint8Array.from([...Buffer.from('{"name":"caf'), 0xe9, ...Buffer.from('"}')])
    const truncated = Uint8Array.from([
      ...Buffer.from('{"name":"x'),
      0xe2,
      0x82,
      ...Buffer.from('"}'),
    ])
    for (const body of [latin1, truncated]) {
      const res = await h.app.request('/v1/workspaces', {
        method: 'POST',
        headers: { authorization: `Bearer ${org.adminKey}`, 'content-type': 'application/json' },
        body,
      })
      const parsed: ApiResponse = {
        status: res.status,
        headers: res.headers,
        body: await res.json(),
        text: '',
      }
      expectError(parsed, 400, 'invalid_request')
      expect(parsed.body.error.message).toMatch(/UTF-8/)
      const scimRes = await h.app.request('/scim/v2/Groups', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${scimToken}`,
          'content-type': 'application/scim+json',
        },
        body,
      })
      const scimParsed: ApiResponse = {
        status: scimRes.status,
        headers: scimRes.headers,
        body: await scimRes.json(),
        text: '',
      }
      expectScimError(scimParsed, 400, 'invalidSyntax')
    }
    expect(await auditCount()).toBe(before)
  })

  it('a query parameter given twice → 400 saying so', async () => {
    for (const query of ['limit=1&limit=2', 'after=a&after=b', 'status=active&status=active']) {
      const res = await api.get(`/v1/members?${query}`)
      expectError(res, 400, 'invalid_request', query.split('=')[0])
      expect(res.body.error.message).toMatch(/only once/)
    }
  })
})
