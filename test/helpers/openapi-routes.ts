import type { Harness } from './harness.js'

/**
 * The API's operations as its own descriptions state them: every operation of the served
 * OpenAPI document (`GET /openapi.json`) and every SCIM endpoint its discovery documents
 * (`/scim/v2/ResourceTypes`, `/scim/v2/Schemas`) announce. Suites that must cover "every
 * route" iterate these, so a route added to the app is covered without editing a list.
 */

// biome-ignore lint/suspicious/noExplicitAny: JSON Schema is open-ended
export type JsonSchema = Record<string, any>

export interface Param {
  name: string
  in: 'path' | 'query' | 'header'
  required: boolean
  schema: JsonSchema
}

export interface Operation {
  /** `GET /v1/members/{id}`: the document's key for the operation. */
  key: string
  method: string
  /** Path template with `{param}` placeholders. */
  path: string
  /** Under /scim/v2 (SCIM Error schema, SCIM media type). */
  scim: boolean
  /** Needs a bearer credential. */
  secured: boolean
  pathParams: Param[]
  query: Param[]
  headers: Param[]
  /** The JSON request body's schema, fully dereferenced; undefined when it takes none. */
  body?: JsonSchema
  /** Statuses the document lists for the operation (empty for SCIM: RFC 7644 gives them). */
  statuses: number[]
}

export interface ApiDescription {
  operations: Operation[]
  /** Named component schemas, dereferenced. */
  components: Record<string, JsonSchema>
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const

/** Every operation of the served OpenAPI document. */
export async function openApiOperations(h: Harness): Promise<ApiDescription> {
  const res = await h.call('GET', '/openapi.json')
  if (res.status !== 200) throw new Error(`GET /openapi.json: ${res.status}`)
  const doc = res.body as JsonSchema
  const resolve = (schema: JsonSchema | undefined) => deref(doc, schema ?? {})
  const operations: Operation[] = []
  for (const [path, item] of Object.entries<JsonSchema>(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method] as JsonSchema | undefined
      if (!op) continue
      const params: Param[] = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(
        (p: JsonSchema) => ({
          name: p.in === 'header' ? String(p.name).toLowerCase() : p.name,
          in: p.in,
          required: Boolean(p.required),
          schema: resolve(p.schema),
        })
      )
      const content = op.requestBody?.content as Record<string, JsonSchema> | undefined
      const jsonBody = content?.['application/json']?.schema
      operations.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        scim: false,
        secured: Array.isArray(op.security) ? op.security.length > 0 : Boolean(doc.security),
        pathParams: params.filter((p) => p.in === 'path'),
        query: params.filter((p) => p.in === 'query'),
        headers: params.filter((p) => p.in === 'header'),
        ...(jsonBody ? { body: resolve(jsonBody) } : {}),
        statuses: Object.keys(op.responses ?? {}).map(Number),
      })
    }
  }
  const components = Object.fromEntries(
    Object.entries<JsonSchema>(doc.components?.schemas ?? {}).map(([name, schema]) => [
      name,
      resolve(schema),
    ])
  )
  return { operations, components }
}

/** Resolves `$ref`s and merges `allOf`, so a schema can be walked without the document. */
export function deref(doc: JsonSchema, schema: JsonSchema, seen: string[] = []): JsonSchema {
  if (schema === null || typeof schema !== 'object') return schema
  if (Array.isArray(schema)) return schema.map((s) => deref(doc, s, seen)) as JsonSchema
  if (typeof schema.$ref === 'string') {
    const ref = schema.$ref as string
    if (seen.includes(ref)) return {}
    const target = ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<JsonSchema>((node, part) => node?.[part], doc)
    const { $ref: _, ...rest } = schema
    return deref(doc, { ...target, ...rest }, [...seen, ref])
  }
  const out: JsonSchema = {}
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'allOf') continue
    out[key] =
      key === 'example' || key === 'enum' || key === 'const' ? value : deref(doc, value, seen)
  }
  for (const part of (schema.allOf ?? []) as JsonSchema[]) {
    const merged = deref(doc, part, seen)
    out.properties = { ...out.properties, ...merged.properties }
    out.required = [...new Set([...(out.required ?? []), ...(merged.required ?? [])])]
    for (const [key, value] of Object.entries(merged)) {
      if (key === 'type' && Array.isArray(value) && typeof out.type === 'string') {
        // `allOf: [enum, {type: [string, null]}]`: the enum's type, now nullable.
        out.type = value.includes(out.type) ? value : out.type
      } else if (!(key in out) && key !== 'properties' && key !== 'required') out[key] = value
      else if (key === 'additionalProperties' && value === false) out[key] = false
    }
  }
  return out
}

/** The JSON types a schema admits (`integer` stands for whole numbers). */
export function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type
  if (typeof schema.type === 'string') return [schema.type]
  if (schema.anyOf || schema.oneOf) {
    return [...new Set(((schema.anyOf ?? schema.oneOf) as JsonSchema[]).flatMap(typesOf))]
  }
  if (schema.const !== undefined) return [jsonType(schema.const)]
  if (schema.enum) return [...new Set((schema.enum as unknown[]).map(jsonType))]
  if (schema.properties) return ['object']
  if (schema.items) return ['array']
  return [] // anything
}

export function jsonType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

/** Whether a JSON value has a type the schema admits (not a full validator: types only). */
export function admitsType(schema: JsonSchema, value: unknown): boolean {
  const types = typesOf(schema)
  if (types.length === 0) return true
  const type = jsonType(value)
  return types.includes(type) || (type === 'integer' && types.includes('number'))
}

// ----- SCIM --------------------------------------------------------------------------------

export const SCIM_PREFIX = '/scim/v2'
const SCIM_PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp'

/**
 * The SCIM endpoints the discovery documents announce: the three discovery endpoints (and
 * their `/{id}` forms), and for each resource type its collection (GET with filter/paging,
 * POST) and its members (GET, PUT, PATCH, DELETE) per RFC 7644 §3. Bodies are JSON Schemas
 * built from the resource's schema definitions in `/Schemas`.
 */
export async function scimOperations(h: Harness, scimToken: string): Promise<Operation[]> {
  const get = async (path: string) => {
    const res = await h.call('GET', `${SCIM_PREFIX}${path}`, { key: scimToken })
    if (res.status !== 200) throw new Error(`GET ${SCIM_PREFIX}${path}: ${res.status}`)
    return res.body as JsonSchema
  }
  const config = await get('/ServiceProviderConfig')
  const types = ((await get('/ResourceTypes')).Resources ?? []) as JsonSchema[]
  const schemas = ((await get('/Schemas')).Resources ?? []) as JsonSchema[]
  const schemaOf = (id: string) => schemas.find((s) => s.id === id)
  const string = { type: 'string' }
  const q = (name: string, schema: JsonSchema = string): Param => ({
    name,
    in: 'query',
    required: false,
    schema,
  })
  const ifMatch: Param = { name: 'if-match', in: 'header', required: false, schema: string }
  const id: Param = { name: 'id', in: 'path', required: true, schema: string }
  const projection = [q('attributes'), q('excludedAttributes')]
  const op = (method: string, path: string, extra: Partial<Operation> = {}): Operation => ({
    key: `${method} ${SCIM_PREFIX}${path}`,
    method,
    path: `${SCIM_PREFIX}${path}`,
    scim: true,
    secured: true,
    pathParams: path.includes('{id}') ? [id] : [],
    query: [],
    headers: [],
    statuses: [],
    ...extra,
  })
  const operations: Operation[] = [
    op('GET', '/ServiceProviderConfig'),
    op('GET', '/ResourceTypes'),
    op('GET', '/ResourceTypes/{id}'),
    op('GET', '/Schemas'),
    op('GET', '/Schemas/{id}'),
  ]
  for (const type of types) {
    const endpoint = String(type.endpoint)
    const core = schemaOf(type.schema)
    if (!core) throw new Error(`ResourceTypes names schema ${type.schema} that /Schemas lacks`)
    const body = scimResourceSchema(type, core, schemaOf)
    const patch: JsonSchema = {
      type: 'object',
      properties: {
        schemas: { type: 'array', items: { type: 'string', enum: [SCIM_PATCH] }, minItems: 1 },
        Operations: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            properties: {
              op: { type: 'string', enum: ['replace', 'add', 'remove'] },
              path: { type: 'string', example: 'displayName' },
              value: {},
            },
            required: ['op'],
          },
        },
      },
      required: ['schemas', 'Operations'],
    }
    const list = [
      q('filter'),
      q('startIndex', { type: 'integer' }),
      q('count', { type: 'integer' }),
      ...projection,
    ]
    operations.push(
      op('GET', endpoint, { query: list }),
      op('POST', endpoint, { body }),
      op('GET', `${endpoint}/{id}`, { query: projection }),
      op('PUT', `${endpoint}/{id}`, { body, headers: [ifMatch] }),
      ...(config.patch?.supported
        ? [op('PATCH', `${endpoint}/{id}`, { body: patch, headers: [ifMatch] })]
        : []),
      op('DELETE', `${endpoint}/{id}`, { headers: [ifMatch] })
    )
  }
  if (config.bulk?.supported) operations.push(op('POST', '/Bulk', { body: { type: 'object' } }))
  return operations
}

/** A SCIM resource's body as JSON Schema: its core attributes and each schema extension. */
function scimResourceSchema(
  type: JsonSchema,
  core: JsonSchema,
  schemaOf: (id: string) => JsonSchema | undefined
): JsonSchema {
  const object = attributesSchema(core.attributes ?? [])
  const ids = [core.id as string]
  for (const extension of (type.schemaExtensions ?? []) as JsonSchema[]) {
    const ext = schemaOf(extension.schema)
    if (!ext) continue
    ids.push(ext.id)
    object.properties[ext.id] = attributesSchema(ext.attributes ?? [])
  }
  object.properties.schemas = {
    type: 'array',
    items: { type: 'string', enum: ids },
    minItems: 1,
    example: [core.id],
  }
  object.required = ['schemas', ...object.required]
  return object
}

function attributesSchema(attributes: JsonSchema[]): JsonSchema {
  const properties: Record<string, JsonSchema> = {}
  const required: string[] = []
  for (const attribute of attributes) {
    if (attribute.mutability === 'readOnly') continue
    const single: JsonSchema =
      attribute.type === 'complex'
        ? attributesSchema(attribute.subAttributes ?? [])
        : attribute.type === 'boolean'
          ? { type: 'boolean' }
          : attribute.type === 'dateTime'
            ? { type: 'string', format: 'date-time' }
            : {
                type: 'string',
                ...(attribute.canonicalValues ? { enum: attribute.canonicalValues } : {}),
              }
    properties[attribute.name] = attribute.multiValued ? { type: 'array', items: single } : single
    if (attribute.required) required.push(attribute.name)
  }
  return { type: 'object', properties, required }
}

// ----- The app's own route table -------------------------------------------------------------

/**
 * Every method and path the Hono app registers, in OpenAPI spelling (`{id}`), without the
 * catch-all middleware entries. Compared with the described operations so that a route the
 * app serves but neither description names cannot escape the suites.
 */
export function registeredRoutes(app: { routes: { method: string; path: string }[] }): string[] {
  const keys = new Set<string>()
  for (const route of app.routes) {
    if (route.method === 'ALL' || route.path.endsWith('*')) continue
    keys.add(`${route.method} ${route.path.replace(/:([A-Za-z_]+)/g, '{$1}')}`)
  }
  return [...keys].sort()
}

/** Fills a path template; values are percent-encoded unless `raw` names the parameter. */
export function fillPath(
  template: string,
  values: Record<string, string>,
  raw: ReadonlySet<string> = new Set()
): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values[name]
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`)
    return raw.has(name) ? value : encodeURIComponent(value)
  })
}

/** The collection a path parameter indexes: the path segment before it (`members/{id}`). */
export function collectionOf(template: string, param: string): string {
  const segments = template.split('/')
  const at = segments.indexOf(`{${param}}`)
  return segments[at - 1] ?? ''
}
