import { type Filter, parse } from 'scim2-parse-filter'
import { badRequest, ScimProblem } from './errors.js'
import { explainFilterError } from './filter-errors.js'
import { MAX_SCAN } from './schemas.js'

/**
 * SCIM filters (RFC 7644 §3.4.2.2): parsed by scim2-parse-filter, checked against the
 * attributes a resource type supports, evaluated on the SCIM representation with each
 * attribute's case rule, and inspected for exact-match lookups a key can answer.
 */

export type AttributeType = 'string' | 'boolean' | 'dateTime' | 'complex'

/**
 * Filterable attributes by lower-cased path (core schema URN removed); caseExact for strings;
 * maxLength: the longest value the attribute can hold (default MAX_FILTER_VALUE).
 */
export type FilterableAttributes = Record<
  string,
  { type: AttributeType; caseExact?: boolean; maxLength?: number }
>

/**
 * Bounds checked before parsing. Identity providers send one or two comparisons; these leave
 * ample room while keeping the parser's recursion and every lookup key small (a value can
 * reach a DynamoDB key, whose sort part holds at most 1,024 bytes).
 */
export const MAX_FILTER_LENGTH = 4096
export const MAX_FILTER_DEPTH = 16
/** The longest comparison value of an attribute without its own maxLength. */
export const MAX_FILTER_VALUE = 512

/** An attribute path as the filter spells it, lower-cased, with the core schema URN removed. */
function canonicalPath(path: string, corePrefix: string): string {
  const lower = path.toLowerCase()
  const prefix = `${corePrefix.toLowerCase()}:`
  return lower.startsWith(prefix) ? lower.slice(prefix.length) : lower
}

function joinPath(prefix: string, path: string): string {
  return prefix ? `${prefix}.${path}` : path
}

/** What is wrong with a filter that did not parse, in plain words (filter-errors.ts). */
export function describeFilterError(text: string, error: unknown): string {
  const explained = explainFilterError(text)
  if (explained) return `The filter is not valid: ${explained}`
  return `The filter is not valid SCIM filter syntax (RFC 7644 §3.4.2.2): ${(error as Error).message}`
}

/** Parses and checks a filter; 400 invalidFilter for bad syntax or unsupported attributes. */
export function parseFilter(
  text: string,
  attributes: FilterableAttributes,
  corePrefix: string
): Filter {
  if (text.length > MAX_FILTER_LENGTH) {
    throw badRequest('invalidFilter', `The filter is longer than ${MAX_FILTER_LENGTH} characters.`)
  }
  if (nestingDepth(text) > MAX_FILTER_DEPTH) {
    throw badRequest(
      'invalidFilter',
      `The filter nests parentheses or brackets deeper than ${MAX_FILTER_DEPTH} levels.`
    )
  }
  let ast: Filter
  try {
    ast = parse(text)
  } catch (error) {
    throw badRequest('invalidFilter', describeFilterError(text, error))
  }
  check(ast, '', attributes, corePrefix)
  return ast
}

/** The deepest nesting of ( ) and [ ] outside string literals. */
function nestingDepth(text: string): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (inString) {
      if (char === '\\') i++
      else if (char === '"') inString = false
    } else if (char === '"') inString = true
    else if (char === '(' || char === '[') deepest = Math.max(deepest, ++depth)
    else if (char === ')' || char === ']') depth--
  }
  return deepest
}

function check(
  filter: Filter,
  prefix: string,
  attributes: FilterableAttributes,
  corePrefix: string
): void {
  switch (filter.op) {
    case 'and':
    case 'or':
      for (const child of filter.filters) check(child, prefix, attributes, corePrefix)
      return
    case 'not':
      check(filter.filter, prefix, attributes, corePrefix)
      return
    case '[]': {
      const path = joinPath(prefix, canonicalPath(filter.attrPath, corePrefix))
      if (attributes[path]?.type !== 'complex') {
        throw badRequest('invalidFilter', `'${filter.attrPath}' is not a multi-valued attribute.`)
      }
      check(filter.valFilter, path, attributes, corePrefix)
      return
    }
    default: {
      const path = joinPath(prefix, canonicalPath(filter.attrPath, corePrefix))
      const spec = attributes[path]
      if (!spec) {
        throw badRequest('invalidFilter', `Filtering on '${filter.attrPath}' is not supported.`)
      }
      if (filter.op === 'pr') return
      const value = filter.compValue
      const ordering = ['gt', 'ge', 'lt', 'le'].includes(filter.op)
      const substring = ['co', 'sw', 'ew'].includes(filter.op)
      if (spec.type === 'boolean' && (ordering || substring || typeof value !== 'boolean')) {
        throw badRequest(
          'invalidFilter',
          `'${filter.attrPath}' is a boolean: compare it with eq or ne and true or false.`
        )
      }
      if (spec.type === 'complex') {
        throw badRequest(
          'invalidFilter',
          `'${filter.attrPath}' is complex: filter on a sub-attribute.`
        )
      }
      if ((ordering || substring) && typeof value !== 'string') {
        throw badRequest('invalidFilter', `'${filter.op}' needs a string value.`)
      }
      if (spec.type === 'string' || spec.type === 'dateTime') {
        // A number, boolean or null can never equal a string attribute: a client bug to report,
        // not an empty result (absence is asked with `pr`).
        if (typeof value !== 'string') {
          throw badRequest(
            'invalidFilter',
            `'${filter.attrPath}' is a ${spec.type === 'string' ? 'string' : 'dateTime'}: compare it with a quoted value${value === null ? ' (or test presence with pr)' : ''}.`
          )
        }
        const max = spec.maxLength ?? MAX_FILTER_VALUE
        if (value.length > max) {
          throw badRequest(
            'invalidFilter',
            `'${filter.attrPath}' holds at most ${max} characters; the value compared is longer.`
          )
        }
        if (spec.type === 'dateTime' && Number.isNaN(Date.parse(value))) {
          throw badRequest(
            'invalidFilter',
            `'${filter.attrPath}' is a dateTime: compare it with an RFC 3339 time.`
          )
        }
      }
    }
  }
}

/** Values at a path of a resource, case-insensitive names, multi-valued attributes flattened. */
function valuesAt(node: unknown, segments: string[]): unknown[] {
  if (segments.length === 0) return Array.isArray(node) ? node : [node]
  if (Array.isArray(node)) return node.flatMap((item) => valuesAt(item, segments))
  if (node === null || typeof node !== 'object') return []
  const [head, ...rest] = segments
  const key = Object.keys(node).find((name) => name.toLowerCase() === head)
  return key === undefined ? [] : valuesAt((node as Record<string, unknown>)[key], rest)
}

/** Splits a canonical path into segments; an extension URN stays one segment. */
function segmentsOf(path: string): string[] {
  const colon = path.lastIndexOf(':')
  if (colon === -1) return path.split('.')
  return [path.slice(0, colon), ...path.slice(colon + 1).split('.')]
}

function compare(op: string, actual: unknown, expected: unknown, caseExact: boolean): boolean {
  if (actual === undefined || actual === null) return false
  if (typeof actual === 'string' && typeof expected === 'string') {
    const a = caseExact ? actual : actual.toLowerCase()
    const b = caseExact ? expected : expected.toLowerCase()
    switch (op) {
      case 'eq':
        return a === b
      case 'co':
        return a.includes(b)
      case 'sw':
        return a.startsWith(b)
      case 'ew':
        return a.endsWith(b)
      case 'gt':
        return a > b
      case 'ge':
        return a >= b
      case 'lt':
        return a < b
      case 'le':
        return a <= b
    }
    return false
  }
  return op === 'eq' && actual === expected
}

/** Whether a SCIM resource (its JSON representation) matches a checked filter. */
export function matches(
  resource: unknown,
  filter: Filter,
  attributes: FilterableAttributes,
  corePrefix: string,
  prefix = ''
): boolean {
  switch (filter.op) {
    case 'and':
      return filter.filters.every((f) => matches(resource, f, attributes, corePrefix, prefix))
    case 'or':
      return filter.filters.some((f) => matches(resource, f, attributes, corePrefix, prefix))
    case 'not':
      return !matches(resource, filter.filter, attributes, corePrefix, prefix)
    case '[]': {
      const local = canonicalPath(filter.attrPath, corePrefix)
      const path = joinPath(prefix, local)
      return valuesAt(resource, segmentsOf(local)).some((item) =>
        matches(item, filter.valFilter, attributes, corePrefix, path)
      )
    }
    case 'pr': {
      const local = canonicalPath(filter.attrPath, corePrefix)
      return valuesAt(resource, segmentsOf(local)).some(
        (value) => value !== undefined && value !== null && value !== ''
      )
    }
    default: {
      const local = canonicalPath(filter.attrPath, corePrefix)
      const caseExact = attributes[joinPath(prefix, local)]?.caseExact ?? false
      const values = valuesAt(resource, segmentsOf(local))
      if (filter.op === 'ne') {
        return !values.some((value) => compare('eq', value, filter.compValue, caseExact))
      }
      return values.some((value) => compare(filter.op, value, filter.compValue, caseExact))
    }
  }
}

/** An exact match a key can answer: `attribute eq "value"` on a keyed attribute. */
export interface KeyedLookup {
  attribute: string
  value: string
}

/**
 * The exact lookups that together find every resource the filter can match, or undefined
 * when the filter needs a scan: an `eq` on a keyed attribute; an `and` with such a conjunct;
 * an `or` whose every branch is keyed. The whole filter is still evaluated on what they find.
 */
export function keyedLookups(
  filter: Filter,
  keyed: ReadonlySet<string>,
  corePrefix: string,
  prefix = ''
): KeyedLookup[] | undefined {
  switch (filter.op) {
    case 'eq': {
      const attribute = joinPath(prefix, canonicalPath(filter.attrPath, corePrefix))
      if (!keyed.has(attribute) || typeof filter.compValue !== 'string') return undefined
      return [{ attribute, value: filter.compValue }]
    }
    case 'and':
      for (const child of filter.filters) {
        const found = keyedLookups(child, keyed, corePrefix, prefix)
        if (found) return found
      }
      return undefined
    case 'or': {
      const branches = filter.filters.map((f) => keyedLookups(f, keyed, corePrefix, prefix))
      return branches.every((branch) => branch !== undefined) ? branches.flat() : undefined
    }
    case '[]':
      return keyedLookups(
        filter.valFilter,
        keyed,
        corePrefix,
        joinPath(prefix, canonicalPath(filter.attrPath, corePrefix))
      )
    default:
      return undefined
  }
}

/**
 * The resources a filter may match: found by key when keyedLookups allows, otherwise every
 * resource of the organization read in one pass, at most MAX_SCAN (more → 400 tooMany, naming
 * the filters that still work).
 */
export async function candidates<T>(
  lookups: KeyedLookup[] | undefined,
  lookUp: (lookups: KeyedLookup[]) => Promise<T[]>,
  scan: (max: number) => Promise<T[]>,
  what: string,
  keyedHint: string
): Promise<T[]> {
  if (lookups) return lookUp(lookups)
  const all = await scan(MAX_SCAN + 1)
  if (all.length > MAX_SCAN) {
    throw new ScimProblem(
      400,
      'tooMany',
      `The organization has more than ${MAX_SCAN} ${what}: filter by ${keyedHint}.`
    )
  }
  return all
}
