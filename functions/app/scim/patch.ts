import { ScimError, type ScimPatchOperation, type ScimResource, scimPatch } from 'scim-patch'
import { z } from 'zod'
import { badRequest, type ScimType } from './errors.js'
import { ENTERPRISE_SCHEMA, PATCH_SCHEMA } from './schemas.js'

/**
 * SCIM PATCH (RFC 7644 §3.5.2). Operations are normalised here (op names in any case, as
 * Entra capitalises them; attribute names in any case) and applied to the resource's SCIM
 * representation by scim-patch; the result is then validated and saved like a PUT.
 */

export type PatchOperation = {
  op: 'add' | 'remove' | 'replace'
  path?: string
  value?: unknown
}

const PatchBody = z.object({
  schemas: z.array(z.string()).optional(),
  Operations: z
    .array(
      z.object({
        op: z.string(),
        path: z.string().min(1).max(1000).optional(),
        value: z.unknown().optional(),
      })
    )
    .min(1)
    .max(1000),
})

/** Checks a PatchOp body; 400 invalidSyntax / noTarget for what RFC 7644 forbids. */
export function patchOperations(body: unknown): PatchOperation[] {
  const parsed = PatchBody.safeParse(body)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.map(String).join('.') || 'body'
    throw badRequest('invalidSyntax', `Invalid PatchOp '${where}': ${issue?.message ?? 'invalid'}`)
  }
  if (parsed.data.schemas && !parsed.data.schemas.includes(PATCH_SCHEMA)) {
    throw badRequest('invalidSyntax', `A PATCH body's schemas must include ${PATCH_SCHEMA}.`)
  }
  return parsed.data.Operations.map((operation, index) => {
    const op = operation.op.toLowerCase()
    if (op !== 'add' && op !== 'remove' && op !== 'replace') {
      throw badRequest(
        'invalidSyntax',
        `Operations[${index}].op must be add, remove or replace (any case); got '${operation.op}'.`
      )
    }
    if (op === 'remove' && operation.path === undefined) {
      throw badRequest('noTarget', `Operations[${index}]: remove needs a path.`)
    }
    if (op !== 'remove' && operation.value === undefined) {
      throw badRequest('invalidSyntax', `Operations[${index}]: ${op} needs a value.`)
    }
    return {
      op,
      ...(operation.path !== undefined ? { path: operation.path } : {}),
      ...(operation.value !== undefined ? { value: operation.value } : {}),
    }
  })
}

/**
 * Rewrites attribute names outside value filters to their canonical spelling (SCIM attribute
 * names are case-insensitive; scim-patch compares them exactly). The enterprise URN too.
 */
export function canonicalPath(path: string, names: ReadonlyMap<string, string>): string {
  let rest = path
  let urn = ''
  if (rest.toLowerCase().startsWith(`${ENTERPRISE_SCHEMA.toLowerCase()}:`)) {
    urn = `${ENTERPRISE_SCHEMA}:`
    rest = rest.slice(urn.length)
  } else if (rest.toLowerCase() === ENTERPRISE_SCHEMA.toLowerCase()) {
    return ENTERPRISE_SCHEMA
  }
  let out = ''
  let depth = 0
  let quoted = false
  let word = ''
  const flush = () => {
    out += depth === 0 && !quoted ? (names.get(word.toLowerCase()) ?? word) : word
    word = ''
  }
  for (const char of rest) {
    if (/[\w$]/.test(char)) {
      word += char
      continue
    }
    flush()
    if (char === '"') quoted = !quoted
    else if (!quoted && char === '[') depth++
    else if (!quoted && char === ']') depth--
    out += char
  }
  flush()
  return urn + out
}

/** The operation with its path, or the keys of its path-less value, spelled canonically. */
function canonicalOperation(
  operation: PatchOperation,
  names: ReadonlyMap<string, string>
): PatchOperation {
  if (operation.path !== undefined) {
    return { ...operation, path: canonicalPath(operation.path, names) }
  }
  const value = operation.value
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('invalidSyntax', `${operation.op} without a path needs an object value.`)
  }
  const entries = Object.entries(value).map(([key, inner]) => [canonicalPath(key, names), inner])
  return { ...operation, value: Object.fromEntries(entries) }
}

/** Applies operations to a copy of a SCIM representation; 400 with scim-patch's scimType. */
export function applyPatch<T extends Record<string, unknown>>(
  resource: T,
  operations: PatchOperation[],
  names: ReadonlyMap<string, string>
): Record<string, unknown> {
  const canonical = operations.map((operation) => canonicalOperation(operation, names))
  try {
    const document = {
      schemas: [],
      ...resource,
      meta: { created: new Date(0), lastModified: new Date(0) },
    } as ScimResource
    return scimPatch(document, canonical as ScimPatchOperation[], {
      mutateDocument: false,
      treatMissingAsAdd: true,
    }) as unknown as Record<string, unknown>
  } catch (error) {
    if (error instanceof ScimError) {
      throw badRequest((error.scimCode as ScimType | undefined) ?? 'invalidSyntax', error.message)
    }
    throw error
  }
}

/** Attribute names by lower-cased spelling, for canonicalPath. */
export function nameMap(names: readonly string[]): ReadonlyMap<string, string> {
  return new Map(names.map((name) => [name.toLowerCase(), name]))
}
