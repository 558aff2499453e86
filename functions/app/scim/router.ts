import { type Context, Hono } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { isIdOf } from '../../lib/ids.js'
import { illFormedStringPath } from '../../lib/unicode.js'
import type { AppEnv } from '../http/env.js'
import { expectedVersion, serviceContext } from '../http/handlers.js'
import { allow } from '../http/middleware/authenticate.js'
import { badRequest, handleScimError, ScimProblem } from './errors.js'
import {
  createScimGroup,
  deleteScimGroup,
  getScimGroup,
  patchScimGroup,
  replaceScimGroup,
  representGroups,
  SCIM_GROUPS,
} from './groups.js'
import { patchOperations } from './patch.js'
import {
  DEFAULT_COUNT,
  listResponse,
  MAX_RESULTS,
  resourceTypes,
  SCIM_CONTENT_TYPE,
  schemaDefinitions,
  serviceProviderConfig,
} from './schemas.js'
import { searchResources } from './search.js'
import {
  createUser,
  deleteUser,
  getUser,
  patchUser,
  replaceUser,
  representUsers,
  SCIM_USERS,
  weakEtag,
} from './users.js'

/**
 * SCIM 2.0 for identity providers (Okta, Microsoft Entra) at /scim/v2, with an organization's
 * SCIM token. Its own router: bearer SCIM tokens only, every answer `application/scim+json`,
 * every error in the SCIM Error schema. Resources are the organization's members and groups,
 * changed only through their domain functions. See docs/scim.md.
 */
export const scimRoutes = new Hono<AppEnv>()

const PREFIX = '/scim/v2'

scimRoutes.use(`${PREFIX}/*`, allow('scim'))

/**
 * User and group ids have one format (docs/scim.md); any other id names no resource: 404
 * before a store read, so no caller-chosen string of any length reaches a key.
 */
for (const [collection, kind, what] of [
  ['Users', 'member', 'user'],
  ['Groups', 'group', 'group'],
] as const) {
  scimRoutes.use(`${PREFIX}/${collection}/:id`, async (c, next) => {
    const id = c.req.param('id')
    if (!isIdOf(kind, id)) {
      const shown = id.length > 64 ? `${id.slice(0, 64)}…` : id
      throw new ScimProblem(404, undefined, `No ${what} with id '${shown}'.`)
    }
    await next()
  })
}

/** The SCIM token's organization: a token reaches its own organization only. */
function organizationOf(c: Context<AppEnv>): string {
  const principal = c.get('principal')
  if (principal.kind !== 'scim') throw new ScimProblem(403, undefined, 'A SCIM token is needed.')
  return principal.organizationId
}

function baseUrl(c: Context<AppEnv>): string {
  return `${new URL(c.req.url).origin}${PREFIX}`
}

function scim(
  c: Context<AppEnv>,
  body: unknown,
  status: ContentfulStatusCode = 200,
  version?: number
): Response {
  if (version !== undefined) c.header('ETag', weakEtag(version))
  return c.body(JSON.stringify(body), status, { 'content-type': SCIM_CONTENT_TYPE })
}

async function readJson(c: Context<AppEnv>): Promise<unknown> {
  const type = c.req.header('content-type') ?? ''
  if (type && !/^application\/(scim\+)?json\b/i.test(type)) {
    throw new ScimProblem(
      415,
      undefined,
      'Send the body as application/scim+json (or application/json).'
    )
  }
  let body: unknown
  try {
    body = await c.req.json()
  } catch {
    throw badRequest('invalidSyntax', 'The request body is not valid JSON.')
  }
  const path = illFormedStringPath(body)
  if (path !== undefined) {
    throw badRequest(
      'invalidValue',
      `${path ? `'${path}'` : 'The body'} is not valid Unicode: it holds a lone surrogate.`
    )
  }
  return body
}

function integerParam(c: Context<AppEnv>, name: string): number | undefined {
  const raw = c.req.query(name)
  if (raw === undefined || raw === '') return undefined
  if (!/^-?\d+$/.test(raw.trim())) throw badRequest('invalidValue', `${name} must be an integer.`)
  return Number(raw)
}

/** startIndex (1-based; below 1 means 1) and count (0..maxResults; more is cut to it). */
function paging(c: Context<AppEnv>) {
  const startIndex = Math.max(1, integerParam(c, 'startIndex') ?? 1)
  const count = Math.min(MAX_RESULTS, Math.max(0, integerParam(c, 'count') ?? DEFAULT_COUNT))
  return { startIndex, count }
}

function attributeList(c: Context<AppEnv>, name: string): string[] | undefined {
  const raw = c.req.query(name)
  if (raw === undefined || raw.trim() === '') return undefined
  return raw.split(',').map((attribute) => attribute.trim().toLowerCase())
}

/**
 * `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) on top-level attributes (a
 * sub-attribute names its parent); `id` and `schemas` are always returned.
 */
function projection(c: Context<AppEnv>) {
  const only = attributeList(c, 'attributes')
  const excluded = attributeList(c, 'excludedAttributes')
  const topLevel = (name: string) => {
    const colon = name.lastIndexOf(':')
    const plain = colon === -1 ? name : name.slice(colon + 1)
    return plain.split('.')[0]!
  }
  const wanted = (key: string) => {
    const name = key.toLowerCase()
    if (name === 'id' || name === 'schemas') return true
    if (only) return only.some((attribute) => attribute === name || topLevel(attribute) === name)
    return !excluded?.some((attribute) => attribute === name || attribute === topLevel(name))
  }
  return {
    wants: (attribute: string) => wanted(attribute),
    apply: <T extends Record<string, unknown>>(resource: T) =>
      Object.fromEntries(Object.entries(resource).filter(([key]) => wanted(key))),
  }
}

// ----- Discovery (RFC 7644 §4) ---------------------------------------------------------------

scimRoutes.get(`${PREFIX}/ServiceProviderConfig`, (c) => scim(c, serviceProviderConfig(baseUrl(c))))

scimRoutes.get(`${PREFIX}/ResourceTypes`, (c) => {
  const types = resourceTypes(baseUrl(c))
  return scim(c, listResponse(types, types.length, 1))
})

scimRoutes.get(`${PREFIX}/ResourceTypes/:id`, (c) => {
  const found = resourceTypes(baseUrl(c)).find((type) => type.id === c.req.param('id'))
  if (!found) throw new ScimProblem(404, undefined, `No resource type '${c.req.param('id')}'.`)
  return scim(c, found)
})

scimRoutes.get(`${PREFIX}/Schemas`, (c) => {
  const schemas = schemaDefinitions(baseUrl(c))
  return scim(c, listResponse(schemas, schemas.length, 1))
})

scimRoutes.get(`${PREFIX}/Schemas/:id`, (c) => {
  const found = schemaDefinitions(baseUrl(c)).find((schema) => schema.id === c.req.param('id'))
  if (!found) throw new ScimProblem(404, undefined, `No schema '${c.req.param('id')}'.`)
  return scim(c, found)
})

// ----- Users ---------------------------------------------------------------------------------

scimRoutes.get(`${PREFIX}/Users`, async (c) => {
  const { startIndex, count } = paging(c)
  const ctx = serviceContext(c)
  const organizationId = organizationOf(c)
  const found = await searchResources(ctx, organizationId, SCIM_USERS, c.req.query('filter'))
  const page = found.slice(startIndex - 1, startIndex - 1 + count)
  const users = await representUsers(ctx, organizationId, baseUrl(c), page)
  return scim(c, listResponse(users.map(projection(c).apply), found.length, startIndex))
})

scimRoutes.post(`${PREFIX}/Users`, async (c) => {
  const body = await readJson(c)
  const user = await createUser(serviceContext(c), organizationOf(c), baseUrl(c), body)
  c.header('Location', String((user.meta as { location: string }).location))
  return scim(c, user, 201, versionOf(user))
})

scimRoutes.get(`${PREFIX}/Users/:id`, async (c) => {
  const user = await getUser(serviceContext(c), organizationOf(c), baseUrl(c), c.req.param('id'))
  return scim(c, projection(c).apply(user), 200, versionOf(user))
})

scimRoutes.put(`${PREFIX}/Users/:id`, async (c) => {
  const body = await readJson(c)
  const user = await replaceUser(
    serviceContext(c),
    organizationOf(c),
    baseUrl(c),
    c.req.param('id'),
    body,
    expectedVersion(c)
  )
  return scim(c, user, 200, versionOf(user))
})

scimRoutes.patch(`${PREFIX}/Users/:id`, async (c) => {
  const operations = patchOperations(await readJson(c))
  const user = await patchUser(
    serviceContext(c),
    organizationOf(c),
    baseUrl(c),
    c.req.param('id'),
    operations,
    expectedVersion(c)
  )
  return scim(c, projection(c).apply(user), 200, versionOf(user))
})

scimRoutes.delete(`${PREFIX}/Users/:id`, async (c) => {
  await deleteUser(serviceContext(c), organizationOf(c), c.req.param('id'), expectedVersion(c))
  return c.body(null, 204)
})

// ----- Groups --------------------------------------------------------------------------------

scimRoutes.get(`${PREFIX}/Groups`, async (c) => {
  const { startIndex, count } = paging(c)
  const ctx = serviceContext(c)
  const organizationId = organizationOf(c)
  const view = projection(c)
  const groups = await searchResources(ctx, organizationId, SCIM_GROUPS, c.req.query('filter'))
  const page = groups.slice(startIndex - 1, startIndex - 1 + count)
  const resources = await representGroups(
    ctx,
    organizationId,
    baseUrl(c),
    page,
    view.wants('members')
  )
  return scim(c, listResponse(resources.map(view.apply), groups.length, startIndex))
})

scimRoutes.post(`${PREFIX}/Groups`, async (c) => {
  const body = await readJson(c)
  const group = await createScimGroup(serviceContext(c), organizationOf(c), baseUrl(c), body)
  c.header('Location', String((group.meta as { location: string }).location))
  return scim(c, group, 201, versionOf(group))
})

scimRoutes.get(`${PREFIX}/Groups/:id`, async (c) => {
  const view = projection(c)
  const group = await getScimGroup(
    serviceContext(c),
    organizationOf(c),
    baseUrl(c),
    c.req.param('id'),
    view.wants('members')
  )
  return scim(c, view.apply(group), 200, versionOf(group))
})

scimRoutes.put(`${PREFIX}/Groups/:id`, async (c) => {
  const body = await readJson(c)
  const group = await replaceScimGroup(
    serviceContext(c),
    organizationOf(c),
    baseUrl(c),
    c.req.param('id'),
    body,
    expectedVersion(c)
  )
  return scim(c, group, 200, versionOf(group))
})

/**
 * Group PATCH answers 204 (what Entra expects and Okta accepts); a request that names
 * `attributes` or `excludedAttributes` gets 200 with the group instead (RFC 7644 §3.5.2).
 */
scimRoutes.patch(`${PREFIX}/Groups/:id`, async (c) => {
  const operations = patchOperations(await readJson(c))
  const ctx = serviceContext(c)
  const organizationId = organizationOf(c)
  const id = c.req.param('id')
  await patchScimGroup(ctx, organizationId, id, operations, expectedVersion(c))
  const asked =
    c.req.query('attributes') !== undefined || c.req.query('excludedAttributes') !== undefined
  if (!asked) return c.body(null, 204)
  const view = projection(c)
  const group = await getScimGroup(ctx, organizationId, baseUrl(c), id, view.wants('members'))
  return scim(c, view.apply(group), 200, versionOf(group))
})

scimRoutes.delete(`${PREFIX}/Groups/:id`, async (c) => {
  await deleteScimGroup(serviceContext(c), organizationOf(c), c.req.param('id'), expectedVersion(c))
  return c.body(null, 204)
})

scimRoutes.all(`${PREFIX}/*`, (c) => {
  throw new ScimProblem(404, undefined, `No SCIM endpoint ${c.req.method} ${c.req.path}.`)
})

scimRoutes.onError(handleScimError)

function versionOf(resource: Record<string, unknown>): number {
  const version = (resource.meta as { version: string }).version
  return Number(/\d+/.exec(version)![0])
}
