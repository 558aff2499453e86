import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'

/**
 * Checks a response against the served OpenAPI 3.1 document (`GET /openapi.json`), so the spec
 * cannot drift from the server: the status is declared for the operation, the body matches the
 * schema of that status and media type (JSON Schema 2020-12, the dialect of OAS 3.1, with ajv),
 * required headers are present, and the headers the API sets are declared and well-formed.
 * The harness runs it on every response (test/helpers/harness.ts), so every test checks it.
 */

// biome-ignore lint/suspicious/noExplicitAny: the document is open-ended JSON
type Json = Record<string, any>

/** Headers the API sets itself: when one is sent, the operation must declare it. */
const API_HEADERS = [
  'etag',
  'idempotent-replayed',
  'retry-after',
  'x-request-id',
  'x-next-page',
  'x-next-cursor',
]

/** Served beside the API and not part of it: the document, its UI, the console; SCIM has its own. */
const UNDESCRIBED = [/^\/openapi\.json$/, /^\/docs(\/|$)/, /^\/console(\/|$)/, /^\/scim\//]

interface Route {
  method: string
  template: string
  pattern: RegExp
  operation: Json
}

export class ResponseValidator {
  private readonly ajv: Ajv2020
  private readonly routes: Route[]
  private readonly compiled = new Map<string, ValidateFunction>()

  constructor(private readonly doc: Json) {
    // strict: false: OpenAPI adds keywords (example, discriminator…) that are not JSON Schema.
    this.ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true })
    addFormats.default(this.ajv)
    this.ajv.addSchema({ $id: 'openapi.json', ...doc })
    this.routes = []
    for (const [template, item] of Object.entries<Json>(doc.paths ?? {})) {
      const pattern = new RegExp(
        `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`
      )
      for (const [method, operation] of Object.entries<Json>(item)) {
        if (typeof operation === 'object' && operation.responses) {
          this.routes.push({ method: method.toUpperCase(), template, pattern, operation })
        }
      }
    }
    // A literal segment wins over a parameter (`/v1/policies/schema` before `/v1/policies/{id}`).
    this.routes.sort((a, b) => paramCount(a.template) - paramCount(b.template))
  }

  /** Whether responses to `url` are the document's to describe (not /docs, SCIM…). */
  covers(url: string): boolean {
    const path = new URL(url, 'http://localhost').pathname
    return !UNDESCRIBED.some((pattern) => pattern.test(path))
  }

  /** The problems of one response, empty when it agrees with the document. */
  check(method: string, url: string, status: number, headers: Headers, text: string): string[] {
    if (!this.covers(url)) return []
    const path = new URL(url, 'http://localhost').pathname
    const matching = this.routes.filter((route) => route.pattern.test(path))
    const route = matching.find((candidate) => candidate.method === method.toUpperCase())
    if (!route) {
      // No such route: the app's 404 in the error shape (nothing else may answer there).
      if (status === 404 || (status === 405 && matching.length > 0)) {
        return this.validateBody('#/components/schemas/Error', 'Error', text, 'application/json')
      }
      return [`${method} ${path} → ${status}, but the document has no such operation`]
    }
    const where = `${method.toUpperCase()} ${route.template} → ${status}`
    const responses = route.operation.responses as Json
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in responses)
    if (!key) return [`${where}: status not declared (declared: ${Object.keys(responses)}).`]
    const pointer = `#/paths/${pointerToken(route.template)}/${method.toLowerCase()}/responses/${key}`
    const response = this.resolve(responses[key]) as Json
    const problems: string[] = []
    problems.push(...this.checkHeaders(where, response, headers))
    const content = response.content as Json | undefined
    const mediaType = headers.get('content-type')?.split(';')[0]?.trim().toLowerCase()
    if (!content || Object.keys(content).length === 0) {
      if (text !== '') problems.push(`${where}: a body where the document declares none.`)
      return problems
    }
    if (!mediaType) return [...problems, `${where}: no Content-Type.`]
    const declared = Object.keys(content).find((type) => type.toLowerCase() === mediaType)
    if (!declared) {
      return [
        ...problems,
        `${where}: media type ${mediaType} not declared (${Object.keys(content)}).`,
      ]
    }
    if (!content[declared].schema) return problems
    const schemaPointer = `${pointer}/content/${pointerToken(declared)}/schema`
    const body = this.validateBody(schemaPointer, where, text, mediaType)
    return [...problems, ...body]
  }

  private checkHeaders(where: string, response: Json, headers: Headers): string[] {
    const problems: string[] = []
    const declared = new Map<string, Json>()
    for (const [name, value] of Object.entries<Json>(response.headers ?? {})) {
      declared.set(name.toLowerCase(), this.resolve(value) as Json)
    }
    for (const [name, spec] of declared) {
      const value = headers.get(name)
      if (value === null) {
        if (spec.required) problems.push(`${where}: required header ${name} missing.`)
        continue
      }
      const schema = spec.schema as Json | undefined
      if (!schema) continue
      const typed = schema.type === 'integer' || schema.type === 'number' ? Number(value) : value
      const source = JSON.stringify(schema)
      let validate = this.compiled.get(source)
      if (!validate) {
        validate = this.ajv.compile(JSON.parse(source.replaceAll('"#/', '"openapi.json#/')))
        this.compiled.set(source, validate)
      }
      if (!validate(typed)) {
        problems.push(
          `${where}: header ${name}: ${JSON.stringify(value)} ${this.ajv.errorsText(validate.errors)}`
        )
      }
    }
    for (const name of API_HEADERS) {
      if (headers.has(name) && !declared.has(name)) {
        problems.push(`${where}: header ${name} sent but not declared.`)
      }
    }
    return problems
  }

  private validateBody(pointer: string, where: string, text: string, mediaType: string): string[] {
    let validate = this.compiled.get(pointer)
    if (!validate) {
      validate = this.ajv.compile({ $ref: `openapi.json${pointer}` })
      this.compiled.set(pointer, validate)
    }
    let value: unknown = text
    if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
      try {
        value = JSON.parse(text)
      } catch {
        return [`${where}: the body is not JSON: ${text.slice(0, 200)}`]
      }
    }
    if (validate(value)) return []
    const errors = (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`)
    return [
      `${where}: body does not match the document: ${errors.join('; ')} — ${text.slice(0, 300)}`,
    ]
  }

  private resolve(node: Json): Json {
    let current = node
    for (let i = 0; current?.$ref && i < 20; i++) {
      current = String(current.$ref)
        .slice(2)
        .split('/')
        .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
        .reduce<Json>((at, part) => at?.[part], this.doc)
    }
    return current
  }
}

function paramCount(template: string): number {
  return (template.match(/\{/g) ?? []).length
}

/** A JSON Pointer token inside a URI fragment. */
function pointerToken(token: string): string {
  return encodeURIComponent(token.replaceAll('~', '~0').replaceAll('/', '~1'))
}

/** Fails the request that produced them: a test cannot pass on a response the spec denies. */
export class ResponseMismatch extends Error {
  override name = 'ResponseMismatch'
}
