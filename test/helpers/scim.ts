import { expect } from 'vitest'
import { as, expectOk } from './admin-model.js'
import type { ApiResponse, Harness } from './harness.js'

export const SCIM = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  enterprise: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  list: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  patch: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
} as const

/** Creates a SCIM token with an admin key; returns its id and secret. */
export async function createScimToken(h: Harness, adminKey: string, name = 'Okta') {
  const res = await as(h, adminKey).post('/v1/scim-tokens', { name })
  expectOk(res, 'POST /v1/scim-tokens')
  return { id: res.body.id as string, secret: res.body.secret as string }
}

/** A SCIM client as an identity provider is: bearer token, application/scim+json bodies. */
export function scimClient(h: Harness, token: string) {
  const send = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    h.call(method, `/scim/v2${path}`, {
      key: token,
      body,
      headers: {
        accept: 'application/scim+json',
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        ...headers,
      },
    })
  return {
    send,
    get: (path: string) => send('GET', path),
    post: (path: string, body: unknown) => send('POST', path, body),
    put: (path: string, body: unknown, headers?: Record<string, string>) =>
      send('PUT', path, body, headers),
    patch: (path: string, operations: unknown[], headers?: Record<string, string>) =>
      send('PATCH', path, { schemas: [SCIM.patch], Operations: operations }, headers),
    delete: (path: string, headers?: Record<string, string>) =>
      send('DELETE', path, undefined, headers),
  }
}

export type ScimClient = ReturnType<typeof scimClient>

export function newUser(email: string, extra: Record<string, unknown> = {}) {
  const [local] = email.split('@')
  return {
    schemas: [SCIM.user],
    userName: email,
    name: { givenName: local, familyName: 'Tester' },
    emails: [{ primary: true, value: email, type: 'work' }],
    displayName: `${local} Tester`,
    active: true,
    ...extra,
  }
}

/** Asserts a SCIM error response: status (as a string in the body), scimType, detail. */
export function expectScimError(res: ApiResponse, status: number, scimType?: string) {
  expect(res.status, res.text).toBe(status)
  expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/)
  expect(res.body.schemas).toEqual([SCIM.error])
  expect(res.body.status).toBe(String(status))
  expect(typeof res.body.detail).toBe('string')
  if (scimType) expect(res.body.scimType).toBe(scimType)
  else expect(res.body.scimType).toBeUndefined()
}
