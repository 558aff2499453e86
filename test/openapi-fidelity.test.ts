import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkResponses, createOrg, type Harness, startHarness } from './helpers/harness.js'
import { ResponseMismatch, ResponseValidator } from './helpers/response-validation.js'
import { createServiceKey } from './helpers/usage.js'

/**
 * The document says what the server does (issue 13 item 5): the requests the README sends are
 * valid by the document's request schemas, nullable fields keep null, and the response check the
 * harness runs on every response does catch a response that differs from the document.
 */
let h: Harness
// biome-ignore lint/suspicious/noExplicitAny: the document is open-ended JSON
let doc: any
let ajv: Ajv2020

beforeAll(async () => {
  h = await startHarness()
  doc = (await h.call('GET', '/openapi.json')).body
  ajv = new Ajv2020({ strict: false })
  addFormats.default(ajv)
  ajv.addSchema({ $id: 'openapi.json', ...doc })
})
afterAll(() => h.close())

/** Errors of `body` against the request body schema of an operation (empty when valid). */
function requestErrors(method: string, path: string, body: unknown): string[] {
  const token = encodeURIComponent(path.replaceAll('~', '~0').replaceAll('/', '~1'))
  const validate = ajv.compile({
    $ref: `openapi.json#/paths/${token}/${method}/requestBody/content/application~1json/schema`,
  })
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`)
}

describe('request schemas', () => {
  it("accept the README's /v1/authorize body, and the server decides it", async () => {
    const org = await createOrg(h, 'Readme')
    const member = await h.call('POST', '/v1/members', {
      key: org.adminKey,
      body: { email: 'readme@example.com', name: 'Readme' },
    })
    const body = {
      organization_id: org.id,
      principal: { type: 'Member', id: member.body.id },
      action: 'use_studio',
      resource: { type: 'Workspace', id: org.defaultWorkspaceId },
    }
    expect(requestErrors('post', '/v1/authorize', body)).toEqual([])
    // Still strict: a field the server refuses is refused by the document too.
    expect(requestErrors('post', '/v1/authorize', { ...body, extra: 1 })).not.toEqual([])
    const svc = await createServiceKey(h)
    const res = await h.call('POST', '/v1/authorize', { key: svc, body })
    expect(res.status).toBe(200)
    expect(res.body.decision).toBe('allow')
  })

  it('type each usage event as a UsageEvent', () => {
    const event = {
      id: 'evt-1',
      organization_id: 'org_1',
      workspace_id: 'ws_1',
      timestamp: '2026-11-27T09:00:00Z',
      product: 'chat',
      model: 'claude-sonnet-4',
      input_tokens: 10,
    }
    expect(requestErrors('post', '/v1/usage/events', { events: [event] })).toEqual([])
    expect(
      requestErrors('post', '/v1/usage/events', { events: [{ ...event, tokens: 10 }] })
    ).not.toEqual([])
  })

  it('keep null where the server takes null (a group without an org role)', () => {
    expect(requestErrors('post', '/v1/groups', { name: 'G', org_role: null })).toEqual([])
    expect(requestErrors('post', '/v1/groups', { name: 'G', org_role: 'member' })).toEqual([])
    expect(requestErrors('post', '/v1/groups', { name: 'G', org_role: 'owner' })).not.toEqual([])
  })
})

describe('usage and cost reports', () => {
  it('answer text/csv when Accept prefers it and format is not given, JSON otherwise', async () => {
    const org = await createOrg(h, 'Accepts')
    const query = 'starting_at=2026-11-20T00:00:00Z'
    const typeOf = async (path: string, accept?: string) => {
      const res = await h.call('GET', path, {
        key: org.adminKey,
        ...(accept ? { headers: { accept } } : {}),
      })
      expect(res.status, res.text).toBe(200)
      return res.headers.get('content-type')?.split(';')[0]
    }
    for (const report of ['/v1/usage', '/v1/costs']) {
      expect(await typeOf(`${report}?${query}`, 'text/csv')).toBe('text/csv')
      expect(await typeOf(`${report}?${query}`, 'application/json;q=0.1, text/csv')).toBe(
        'text/csv'
      )
      expect(await typeOf(`${report}?${query}`)).toBe('application/json')
      expect(await typeOf(`${report}?${query}`, '*/*')).toBe('application/json')
      // An explicit format wins over Accept.
      expect(await typeOf(`${report}?${query}&format=json`, 'text/csv')).toBe('application/json')
      expect(await typeOf(`${report}?${query}&format=csv`, 'application/json')).toBe('text/csv')
    }
  })
})

describe('the response check of the harness', () => {
  it('refuses an undeclared status, a body off the schema, a missing or undeclared header', async () => {
    const org = await createOrg(h, 'Checked')
    const group = await h.call('POST', '/v1/groups', { key: org.adminKey, body: { name: 'G' } })
    expect(group.status).toBe(201)
    expect(group.body.org_role).toBeNull()
    const check = new ResponseValidator(doc)
    const ok = () => new Headers(group.headers)
    expect(check.check('POST', '/v1/groups', 201, ok(), group.text)).toEqual([])
    expect(check.check('POST', '/v1/groups', 204, ok(), '')).toEqual([
      expect.stringContaining('status not declared'),
    ])
    const wrong = JSON.stringify({ ...group.body, org_role: 'owner' })
    expect(check.check('POST', '/v1/groups', 201, ok(), wrong)).toEqual([
      expect.stringContaining('/org_role'),
    ])
    const noId = ok()
    noId.delete('x-request-id')
    expect(check.check('POST', '/v1/groups', 201, noId, group.text)).toEqual([
      expect.stringContaining('required header x-request-id missing'),
    ])
    const extra = ok()
    extra.set('x-next-cursor', 'c1')
    expect(check.check('POST', '/v1/groups', 201, extra, group.text)).toEqual([
      expect.stringContaining('x-next-cursor sent but not declared'),
    ])
    const csv = ok()
    csv.set('content-type', 'text/csv')
    expect(check.check('POST', '/v1/groups', 201, csv, 'a,b')).toEqual([
      expect.stringContaining('media type text/csv not declared'),
    ])
    expect(check.check('GET', '/v1/no-such-route', 200, ok(), '{}')).toEqual([
      expect.stringContaining('no such operation'),
    ])
  })

  it('fails the request that got such a response', async () => {
    // The same app, checked against a document that lost POST /v1/groups' 201.
    const other = await startHarness({ validateResponses: false })
    try {
      const org = await createOrg(other, 'Lost status')
      const lost = structuredClone(doc)
      delete lost.paths['/v1/groups'].post.responses['201']
      checkResponses(other.app, new ResponseValidator(lost))
      await expect(
        other.call('POST', '/v1/groups', { key: org.adminKey, body: { name: 'G' } })
      ).rejects.toThrow(ResponseMismatch)
      // Other operations still pass.
      expect((await other.call('GET', '/v1/groups', { key: org.adminKey })).status).toBe(200)
    } finally {
      await other.close()
    }
  })
})
