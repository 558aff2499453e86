import createClient from 'openapi-fetch'
import type { components, paths } from './api.gen'

export type Schemas = components['schemas']
export type Session = Schemas['AdminKeySession']
export type AdminAction = Session['allowed_actions'][number]
export type Client = ReturnType<typeof apiClient>

export const UNAUTHENTICATED = 'console:unauthenticated'

/** The typed client of this origin's API, sending the admin key as a bearer credential. */
export function apiClient(key: string) {
  const client = createClient<paths>({ baseUrl: location.origin })
  client.use({
    onRequest({ request }) {
      request.headers.set('Authorization', `Bearer ${key}`)
      return request
    },
    onResponse({ response }) {
      // The key was revoked or expired meanwhile: the console signs out (main.tsx).
      if (response.status === 401) dispatchEvent(new Event(UNAUTHENTICATED))
      return response
    },
  })
  return client
}

/** A Cedar diagnostic with its position, as PUT /v1/policies and /validate report them. */
export type Diagnostic = Schemas['PolicyDiagnostic']

/** An error response of the API, in the contract's shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly param: string | null,
    readonly requestId: string | null,
    readonly diagnostics: Diagnostic[] = []
  ) {
    super(message)
  }
}

interface ErrorBody {
  error?: {
    type?: string
    message?: string
    param?: string | null
    request_id?: string | null
    diagnostics?: Diagnostic[]
  }
}

/** The data of a call, or its error thrown as an ApiError (the server's message kept). */
export async function ok<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>
): Promise<T> {
  const { data, error, response } = await call
  if (response.ok) return data as T
  const body = (error ?? {}) as ErrorBody
  throw new ApiError(
    response.status,
    body.error?.type ?? 'internal',
    body.error?.message ?? `${response.status} ${response.statusText}`,
    body.error?.param ?? null,
    body.error?.request_id ?? null,
    body.error?.diagnostics ?? []
  )
}

/** Every item of a cursor-paginated list (`has_more` / `next_cursor`). */
export async function all<T>(
  page: (
    after: string | undefined
  ) => Promise<{ data: T[]; has_more: boolean; next_cursor: string | null }>
): Promise<T[]> {
  const items: T[] = []
  let after: string | undefined
  for (;;) {
    const result = await page(after)
    items.push(...result.data)
    if (!result.has_more || !result.next_cursor) return items
    after = result.next_cursor
  }
}

/** The JSON body of a route that can also answer CSV (format=json is the default). */
export function json<T>(data: T): Exclude<T, string> {
  if (typeof data === 'string') throw new Error('Expected a JSON response, got text.')
  return data as Exclude<T, string>
}
