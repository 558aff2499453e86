import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import { convertToAttr, type marshallOptions } from '@aws-sdk/util-dynamodb'

/** The document client's marshalling options (client.ts), which every write here follows. */
export const MARSHALL_OPTIONS: marshallOptions = {
  removeUndefinedValues: true,
  convertEmptyValues: false,
}

/**
 * An item as DynamoDB attribute values, exactly as `marshall(item, MARSHALL_OPTIONS)` of
 * @aws-sdk/util-dynamodb makes it (a property test holds it to that), with the common types —
 * strings, safe finite numbers, booleans, null — converted inline. The library's converter
 * allocates and compares several arrays per value (a number is checked against NaN and the
 * infinities as strings), and ingestion marshals about 17 attributes for each of up to 1,000
 * event copies per request (issue 12). Every other value (lists, maps, sets, binary, bigints,
 * special or unsafe numbers) goes to the library, errors included.
 */
export function toAttributeMap(item: Record<string, unknown>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {}
  for (const name in item) {
    const value = item[name]
    // As the library: undefined values (removeUndefinedValues) and functions are left out.
    if (value !== undefined && typeof value !== 'function') out[name] = toAttributeValue(value)
  }
  return out
}

function toAttributeValue(value: unknown): AttributeValue {
  switch (typeof value) {
    case 'string':
      return { S: value }
    case 'number':
      if (Number.isFinite(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER) {
        return { N: String(value) }
      }
      break
    case 'boolean':
      return { BOOL: value }
    case 'object':
      if (value === null) return { NULL: true }
      break
  }
  return convertToAttr(value, MARSHALL_OPTIONS) as AttributeValue
}
