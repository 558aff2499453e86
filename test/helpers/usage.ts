import type { Harness } from './harness.js'

/** A service key (what first-party products send usage with). */
export async function createServiceKey(h: Harness, name = 'chat'): Promise<string> {
  const res = await h.call('POST', '/v1/service-keys', { key: h.operatorKey, body: { name } })
  if (res.status !== 201) throw new Error(`service key: ${res.status} ${res.text}`)
  return res.body.secret as string
}

export interface EventSpec {
  id: string
  organization_id: string
  workspace_id: string
  timestamp: string
  product?: string
  model?: string
  api_key_id?: string | null
  member_id?: string | null
  input_tokens?: number
  output_tokens?: number
  requests?: number
}

/** A well-formed event with defaults for what the test does not care about. */
export function usageEvent(spec: EventSpec): Record<string, unknown> {
  return { product: 'chat', model: 'claude-sonnet-4', ...spec }
}

export async function sendEvents(h: Harness, serviceKey: string, events: unknown[]) {
  const res = await h.call('POST', '/v1/usage/events', { key: serviceKey, body: { events } })
  if (res.status !== 200) throw new Error(`ingest: ${res.status} ${res.text}`)
  return res.body as {
    accepted: number
    duplicates: number
    rejected: { index: number; error: { code: string; message: string; param: string } }[]
  }
}

/** One aggregation pass through the operator route. */
export async function aggregate(h: Harness) {
  const res = await h.call('POST', '/v1/jobs/aggregate', { key: h.operatorKey })
  if (res.status !== 200) throw new Error(`aggregate: ${res.status} ${res.text}`)
  return res.body
}

/** An admin key of the organization holding only `role`. */
export async function adminKeyWithRole(h: Harness, adminKey: string, role: string) {
  const res = await h.call('POST', '/v1/admin-keys', {
    key: adminKey,
    body: { name: role, org_roles: [role] },
  })
  if (res.status !== 201) throw new Error(`admin key: ${res.status} ${res.text}`)
  return res.body.secret as string
}

let subjects = 0

/** A workspace API key of `workspaceId` (usage events must name real keys of their workspace). */
export async function createUsageApiKey(h: Harness, adminKey: string, workspaceId: string) {
  const res = await h.call('POST', '/v1/api-keys', {
    key: adminKey,
    body: { name: `usage ${++subjects}`, workspace_id: workspaceId },
  })
  if (res.status !== 201) throw new Error(`api key: ${res.status} ${res.text}`)
  return res.body.id as string
}

/** A member of the organization (usage events must name real members). */
export async function createUsageMember(h: Harness, adminKey: string) {
  const res = await h.call('POST', '/v1/members', {
    key: adminKey,
    body: { email: `usage-${++subjects}@example.com`, name: 'Usage' },
  })
  if (res.status !== 201) throw new Error(`member: ${res.status} ${res.text}`)
  return res.body.id as string
}
