import type { PatchOperation } from './patch.js'

/**
 * Attributes sent fully qualified under their resource's core schema (RFC 7644 §3.10), as
 * generic clients and the SCIM Verify suite do: `{"urn:…:core:2.0:User": {"userName": …}}`, a
 * key `urn:…:core:2.0:User:userName`, or a PATCH path `urn:…:core:2.0:User:displayName`. Each
 * means the plain attribute; extension schemas (the enterprise User) keep their URN.
 */
export function unqualifiedResource(body: unknown, coreSchema: string): unknown {
  if (!isObject(body)) return body
  const urn = coreSchema.toLowerCase()
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) {
    const lower = key.toLowerCase()
    if (lower === urn && isObject(value)) Object.assign(out, unqualifiedResource(value, coreSchema))
    else if (lower.startsWith(`${urn}:`)) out[key.slice(urn.length + 1)] = value
    else out[key] = value
  }
  return out
}

/** PATCH operations with core-schema paths and path-less value keys unqualified. */
export function unqualifiedOperations(
  operations: PatchOperation[],
  coreSchema: string
): PatchOperation[] {
  const urn = coreSchema.toLowerCase()
  return operations.map((operation) => {
    const path = operation.path
    if (path === undefined) {
      return { ...operation, value: unqualifiedResource(operation.value, coreSchema) }
    }
    if (path.toLowerCase() === urn && operation.op !== 'remove') {
      // The whole core schema as the target: its value's attributes, as if path-less.
      const { path: _path, ...rest } = operation
      return { ...rest, value: unqualifiedResource(operation.value, coreSchema) }
    }
    if (path.toLowerCase().startsWith(`${urn}:`)) {
      return { ...operation, path: path.slice(urn.length + 1) }
    }
    return operation
  })
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
