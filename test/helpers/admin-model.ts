import type { ApiResponse, CallOptions, Harness } from './harness.js'

/** A caller bound to one credential, with helpers that fail loudly on an unexpected status. */
export function as(h: Harness, key: string) {
  const send = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    h.call(method, path, { key, body, ...(headers ? { headers } : {}) } satisfies CallOptions)
  return {
    send,
    get: (path: string, headers?: Record<string, string>) => send('GET', path, undefined, headers),
    post: (path: string, body?: unknown, headers?: Record<string, string>) =>
      send('POST', path, body, headers),
    put: (path: string, body?: unknown, headers?: Record<string, string>) =>
      send('PUT', path, body, headers),
    patch: (path: string, body?: unknown, headers?: Record<string, string>) =>
      send('PATCH', path, body, headers),
    delete: (path: string, headers?: Record<string, string>) =>
      send('DELETE', path, undefined, headers),
    /** POST/PUT that must succeed; returns the body. */
    async create(path: string, body?: unknown, method: 'POST' | 'PUT' = 'POST') {
      const res = await send(method, path, body)
      expectOk(res, `${method} ${path}`)
      return res.body
    },
  }
}

export type Caller = ReturnType<typeof as>

export function expectOk(res: ApiResponse, what: string): void {
  if (res.status >= 300) throw new Error(`${what} failed: ${res.status} ${res.text}`)
}

let counter = 0
/** A unique email for a test member. */
export function email(prefix = 'user'): string {
  counter++
  return `${prefix}.${counter}.${Math.random().toString(36).slice(2, 7)}@example.com`
}

/** Every page of a list route, following next_cursor. */
export async function listAll<T = Record<string, unknown>>(
  api: Caller,
  path: string,
  limit = 100
): Promise<T[]> {
  const items: T[] = []
  let cursor: string | null = null
  do {
    const sep = path.includes('?') ? '&' : '?'
    const res = await api.get(
      `${path}${sep}limit=${limit}${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`
    )
    expectOk(res, `GET ${path}`)
    items.push(...(res.body.data as T[]))
    cursor = res.body.next_cursor
  } while (cursor)
  return items
}
