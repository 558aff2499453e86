/**
 * Where a parsed JSON value holds a string that is not well-formed UTF-16 (a lone surrogate,
 * which JSON can spell as "\ud800"): such a string has no UTF-8 form, so DynamoDB, Cedar and
 * every client would each fail or mangle it differently. Returns the dotted path of the first
 * one ('' for the value itself), or undefined when every string and key is well formed.
 * Iterative, so a deeply nested body cannot exhaust the stack.
 */
export function illFormedStringPath(value: unknown): string | undefined {
  const pending: { value: unknown; path: string }[] = [{ value, path: '' }]
  while (pending.length > 0) {
    const next = pending.pop()!
    if (typeof next.value === 'string') {
      if (!isWellFormed(next.value)) return next.path
    } else if (Array.isArray(next.value)) {
      next.value.forEach((item, i) => {
        pending.push({ value: item, path: join(next.path, String(i)) })
      })
    } else if (next.value !== null && typeof next.value === 'object') {
      for (const [key, item] of Object.entries(next.value)) {
        const path = join(next.path, key)
        if (!isWellFormed(key)) return path
        pending.push({ value: item, path })
      }
    }
  }
  return undefined
}

// With the u flag a surrogate pair is one code point, so \p{Cs} matches lone surrogates only.
const LONE_SURROGATE = /\p{Cs}/u

export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text)
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key
}
