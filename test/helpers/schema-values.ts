import { type JsonSchema, typesOf } from './openapi-routes.js'

/**
 * Plausible valid values built from a JSON Schema (request bodies and parameters of the
 * OpenAPI document), with a hook that names real values by property (ids, emails).
 */
export interface ValueContext {
  now: Date
  /** A value for the property at `path` (its name is the last element), or undefined. */
  named?: (
    path: (string | number)[],
    schema: JsonSchema,
    parent: Record<string, unknown>
  ) => unknown
  /** Component schemas, for array items the document points to by description. */
  components?: Record<string, JsonSchema>
}

let counter = 0

/** Candidates tried, in order, against a string schema's pattern and length bounds. */
const STRING_CANDIDATES = [
  'sample',
  'USD',
  '10.000000',
  'claude-sonnet-4',
  'chat',
  'sample-1',
  'Sample_1',
]

/**
 * SCIM attributes whose schema (a plain string) does not say what servers accept: a userName
 * and emails are addresses, a group member is a User.
 */
export function scimAttributeValue(path: (string | number)[]): string | undefined {
  const name = path.at(-1)
  if (name === 'userName' || (name === 'value' && path.includes('emails'))) {
    counter++
    return `scim.${counter}@example.com`
  }
  if (name === 'type' && path.includes('members')) return 'User'
  return undefined
}

export function validValue(
  schema: JsonSchema,
  ctx: ValueContext,
  path: (string | number)[] = [],
  parent: Record<string, unknown> = {}
): unknown {
  const named = path.length > 0 ? ctx.named?.(path, schema, parent) : undefined
  if (named !== undefined) return named
  if (schema.const !== undefined) return schema.const
  if (Array.isArray(schema.enum) && schema.enum.length > 0) {
    return schema.enum.find((value: unknown) => value !== null) ?? schema.enum[0]
  }
  const options = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined
  if (options) {
    const first = options.find((option) => !typesOf(option).includes('null')) ?? options[0]!
    return validValue(first, ctx, path, parent)
  }
  const types = typesOf(schema).filter((type) => type !== 'null')
  const type = types[0] ?? (schema.additionalProperties !== undefined ? 'object' : undefined)
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      for (const [name, property] of Object.entries<JsonSchema>(schema.properties ?? {})) {
        out[name] = validValue(property, ctx, [...path, name], out)
      }
      return out
    }
    case 'array': {
      let items = (schema.items ?? {}) as JsonSchema
      const pointer = /components\.schemas\.(\w+)/.exec(String(items.description ?? ''))
      if (pointer && !items.properties && ctx.components?.[pointer[1]!]) {
        items = ctx.components[pointer[1]!]!
      }
      return [validValue(items, ctx, [...path, 0], parent)]
    }
    case 'integer':
    case 'number': {
      const min = typeof schema.minimum === 'number' ? schema.minimum : 1
      const max = typeof schema.maximum === 'number' ? schema.maximum : Math.max(min, 1)
      return Math.min(Math.max(min, 1), max)
    }
    case 'boolean':
      return true
    case 'string':
      return validString(schema, ctx)
    default:
      return {}
  }
}

function validString(schema: JsonSchema, ctx: ValueContext): string {
  counter++
  if (schema.format === 'email') return `sample.${counter}@example.com`
  if (schema.format === 'date-time') {
    return new Date(ctx.now.getTime() + 24 * 3600_000).toISOString()
  }
  const fits = (value: string) =>
    value.length >= (schema.minLength ?? 0) &&
    value.length <= (schema.maxLength ?? Number.POSITIVE_INFINITY) &&
    (!schema.pattern || new RegExp(schema.pattern).test(value))
  const candidates = [
    ...(typeof schema.example === 'string' ? [schema.example] : []),
    ...STRING_CANDIDATES,
  ]
  const found = candidates.find(fits)
  if (found !== undefined) return found
  return 'x'.repeat(Math.max(1, schema.minLength ?? 1))
}
