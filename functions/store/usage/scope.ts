/**
 * What usage is counted against and budgets are kept for: an organization (`workspace_id` null)
 * or one of its workspaces. Spend limits, budget states, month totals and budget alerts all carry
 * these two fields.
 */
export interface UsageScope {
  organization_id: string
  workspace_id: string | null
}

/** The organization itself as a scope. */
export function organizationScope(organizationId: string): UsageScope {
  return { organization_id: organizationId, workspace_id: null }
}

/**
 * "org_…" or "org_…/ws_…": a scope's one string form, for maps and sets and for the job lock's
 * pending scopes (stored, so the format stays). Ids never contain "/".
 */
export function scopeName(scope: UsageScope): string {
  return scope.workspace_id
    ? `${scope.organization_id}/${scope.workspace_id}`
    : scope.organization_id
}

export function parseScopeName(name: string): UsageScope {
  const [organizationId, workspaceId] = name.split('/')
  return { organization_id: organizationId!, workspace_id: workspaceId ?? null }
}
