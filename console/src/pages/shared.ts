import { all, type Client, ok } from '../api'

/** Lists used by several pages (pickers): every item, following cursors. */
export const lists = {
  workspaces: (client: Client) =>
    all((after) => ok(client.GET('/v1/workspaces', { params: { query: { limit: 100, after } } }))),
  members: (client: Client) =>
    all((after) => ok(client.GET('/v1/members', { params: { query: { limit: 100, after } } }))),
  groups: (client: Client) =>
    all((after) => ok(client.GET('/v1/groups', { params: { query: { limit: 100, after } } }))),
}

export const ORG_ROLES = ['organization_admin', 'billing_manager', 'member'] as const
export const WORKSPACE_ROLES = [
  'workspace_admin',
  'workspace_contributor',
  'user',
  'dev',
  'code_user',
  'billing',
  'observability_viewer',
] as const

export function ifMatch(version: number) {
  return { 'if-match': `"${version}"` }
}
