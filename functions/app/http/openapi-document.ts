/**
 * The last pass over the generated OpenAPI 3.1 document: what holds for every operation is
 * written once here instead of in each route (operationId, the errors any request can meet, the
 * headers every response carries), and two constructs the generator emits that lose meaning in
 * JSON Schema are rewritten. Routes added later get all of it without doing anything.
 */

// biome-ignore lint/suspicious/noExplicitAny: the document is open-ended JSON
type Json = Record<string, any>

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const

const ERROR_REF = { $ref: '#/components/schemas/Error' }
const header = (name: string) => ({ $ref: `#/components/headers/${name}` })

const HEADERS: Record<string, Json> = {
  RequestId: {
    description: 'Id of this request (also `error.request_id`); quote it when reporting a problem',
    required: true,
    schema: { type: 'string', minLength: 1 },
  },
  ETag: {
    description: 'The version of the resource (`"<version>"`), to send back in If-Match',
    schema: { type: 'string', pattern: '^"[0-9]+"$' },
  },
  IdempotentReplayed: {
    description: 'Present on a replay of the first response for the same Idempotency-Key',
    schema: { type: 'string', enum: ['true'] },
  },
  RetryAfter: {
    description: 'Seconds after which the request may succeed when sent again',
    schema: { type: 'integer', minimum: 0 },
  },
  RetryAfterRequired: {
    description: 'Seconds after which the request may succeed when sent again',
    required: true,
    schema: { type: 'integer', minimum: 0 },
  },
}

/** What any request can meet, whatever the operation. */
const COMMON_ERRORS: Record<string, Json> = {
  429: {
    description:
      'Throttled before reaching the API: the deployment-wide request rate of the API gateway ' +
      '(its body is then `{"message"}`); send again later',
    headers: { 'Retry-After': header('RetryAfter') },
    content: {
      'application/json': {
        schema: {
          anyOf: [
            ERROR_REF,
            {
              type: 'object',
              properties: { message: { type: 'string' } },
              required: ['message'],
            },
          ],
        },
      },
    },
  },
  500: {
    description: 'Internal error (type internal); nothing was changed',
    content: { 'application/json': { schema: ERROR_REF } },
  },
  503: {
    description:
      'The data store is busy or unavailable (type unavailable); the whole request may be retried after Retry-After seconds',
    headers: { 'Retry-After': header('RetryAfterRequired') },
    content: { 'application/json': { schema: ERROR_REF } },
  },
}

const TOO_LARGE = {
  description: 'Request body over 1 MiB (type payload_too_large); nothing was changed',
  content: { 'application/json': { schema: ERROR_REF } },
}

const KEY_CONFLICT = {
  description:
    'This Idempotency-Key was used with a different request, or its first request is still in progress (Retry-After)',
  content: { 'application/json': { schema: ERROR_REF } },
}

const TAG_DESCRIPTIONS: Record<string, string> = {
  System: 'Liveness and the API description',
  Operator: 'Organizations and service keys (operator key)',
  Organization: 'The calling organization and its roles',
  Workspaces: 'Workspaces of the organization',
  'Admin keys': 'Admin keys of the organization',
  'Audit log': 'What changed, who changed it and when',
  Members: 'Members of the organization and their effective access',
  Invites: 'Invitations to join the organization',
  Groups: 'Groups of members (nested groups included)',
  'Workspace access': "Members' and groups' roles in a workspace",
  Seats: 'Product seats',
  'Workspace API keys': 'API keys of a workspace',
  Usage: 'Usage events and the usage and cost reports',
  Budgets: 'Spend limits and budgets',
  Prices: 'Model prices',
  'SCIM tokens': 'Tokens identity providers use for /scim/v2',
  Decisions: 'Authorization decisions for first-party products (/v1/authorize)',
  Policies: 'Built-in and custom Cedar policies',
  Webhooks: 'Signed notifications of budget, rate-limit, member, key and policy events',
}

/** `GET /v1/workspaces/{id}/access` → `getWorkspacesByIdAccess`: unique per method and path. */
export function operationIdOf(method: string, path: string): string {
  const words = path
    .split('/')
    .filter((segment) => segment !== '' && segment !== 'v1')
    .flatMap((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment)?.[1]
      return param ? ['by', ...param.split(/[_-]/)] : segment.split(/[_.-]/)
    })
    .filter((word) => word !== '')
  return [method, ...words.map((word) => word[0]!.toUpperCase() + word.slice(1))].join('')
}

function resolve(doc: Json, schema: Json | undefined): Json | undefined {
  let current = schema
  for (let depth = 0; current?.$ref && depth < 20; depth++) {
    const ref = String(current.$ref)
    if (!ref.startsWith('#/')) return undefined
    current = ref
      .slice(2)
      .split('/')
      .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce<Json | undefined>((node, part) => node?.[part], doc)
  }
  return current
}

/** A versioned record: its 2xx responses carry the version as ETag (respondWithVersion). */
function isVersioned(doc: Json, schema: Json | undefined): boolean {
  const resolved = resolve(doc, schema)
  if (!resolved) return false
  if (resolved.properties?.version) return true
  // A union (PUT /v1/policies/{id}: the policy, or with simulate=true a report) may carry it.
  const parts = [...(resolved.allOf ?? []), ...(resolved.anyOf ?? []), ...(resolved.oneOf ?? [])]
  return parts.some((part: Json) => isVersioned(doc, part))
}

/**
 * `X.nullable()` of a named schema comes out as `allOf: [$ref X, {type: [t, "null"]}]`, which no
 * value satisfies when it is null (X does not admit null): written `anyOf: [$ref X, {type: null}]`.
 * `Named.extend({...})` of a strict object comes out as `allOf: [$ref Named, {…, additionalProperties:
 * false}]`, which rejects every value (each part forbids the other's properties): written as one
 * object with the properties of both.
 */
function rewriteSchemas(doc: Json, node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) rewriteSchemas(doc, item)
    return
  }
  if (node === null || typeof node !== 'object') return
  const schema = node as Json
  const parts = schema.allOf as Json[] | undefined
  if (Array.isArray(parts) && parts.length === 2 && parts[0]?.$ref) {
    const [ref, extra] = parts as [Json, Json]
    const type = extra.type
    const onlyNull =
      Array.isArray(type) && type.includes('null') && Object.keys(extra).every((k) => k === 'type')
    const base = resolve(doc, ref)
    if (onlyNull) {
      delete schema.allOf
      schema.anyOf = [ref, { type: 'null' }]
    } else if (
      base?.type === 'object' &&
      base.additionalProperties === false &&
      extra.type === 'object'
    ) {
      delete schema.allOf
      Object.assign(schema, {
        type: 'object',
        properties: { ...base.properties, ...extra.properties },
        required: [...new Set([...(base.required ?? []), ...(extra.required ?? [])])],
        additionalProperties: false,
      })
    }
  }
  for (const value of Object.values(schema)) rewriteSchemas(doc, value)
}

function addHeaders(response: Json, headers: Record<string, Json>): void {
  response.headers = { ...headers, ...response.headers }
}

/** Completes the generated document in place and returns it. */
export function finishDocument(doc: Json): Json {
  doc.servers ??= [{ url: '/', description: 'This deployment (paths start at its root)' }]
  doc.info = {
    contact: { name: 'Admin engine maintainers' },
    license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    ...doc.info,
  }
  doc.components ??= {}
  doc.components.headers = { ...HEADERS, ...doc.components.headers }

  const tags = new Set<string>()
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method] as Json | undefined
      if (!op) continue
      for (const tag of op.tags ?? []) tags.add(tag)
      op.operationId ??= operationIdOf(method, path)
      if (!op.security) {
        op.security = []
        op.description = [op.description, 'No credential.'].filter(Boolean).join('\n\n')
      }
      op.responses ??= {}
      for (const [status, response] of Object.entries(COMMON_ERRORS)) {
        op.responses[status] ??= structuredClone(response)
      }
      // The body limit holds for every request that can carry a body.
      if (method !== 'get' || op.requestBody) op.responses[413] ??= structuredClone(TOO_LARGE)
      const idempotent = (op.parameters ?? []).some(
        (p: Json) => p.in === 'header' && String(p.name).toLowerCase() === 'idempotency-key'
      )
      if (idempotent) op.responses[409] ??= structuredClone(KEY_CONFLICT)
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        addHeaders(response, { 'x-request-id': header('RequestId') })
        const code = Number(status)
        if (code >= 200 && code < 300) {
          const schema = response.content?.['application/json']?.schema
          if (isVersioned(doc, schema)) addHeaders(response, { ETag: header('ETag') })
          if (idempotent)
            addHeaders(response, { 'Idempotent-Replayed': header('IdempotentReplayed') })
        }
        if (code === 409) addHeaders(response, { 'Retry-After': header('RetryAfter') })
      }
    }
  }
  const declared = new Set((doc.tags ?? []).map((tag: Json) => tag.name))
  doc.tags = [
    ...(doc.tags ?? []),
    ...[...tags]
      .filter((tag) => !declared.has(tag))
      .map((name) => ({ name, description: TAG_DESCRIPTIONS[name] ?? name })),
  ]
  rewriteSchemas(doc, doc.components.schemas)
  rewriteSchemas(doc, doc.paths)
  return doc
}
