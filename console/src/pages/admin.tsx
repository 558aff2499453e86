import type { JSX } from 'preact'
import type { AdminAction } from '../api'
import { Page } from '../ui'
import { AccessSection, SeatsSection } from './admin-access'
import { AuditSection } from './admin-audit'
import { GroupsSection } from './admin-groups'
import { AdminKeysSection, ApiKeysSection, ScimTokensSection } from './admin-keys'
import { MembersSection } from './admin-members'
import { PoliciesSection } from './admin-policies'
import { WorkspacesSection } from './admin-workspaces'

/** The administration pages, each one resource of the Admin API. */
export const ADMIN_SECTIONS: {
  path: string
  label: string
  view: () => JSX.Element
  /** The Admin action that reading the page needs (menu entries follow GET /v1/me). */
  needs: AdminAction
}[] = [
  { path: 'workspaces', label: 'Workspaces', view: WorkspacesSection, needs: 'read_workspace' },
  { path: 'members', label: 'Members', view: MembersSection, needs: 'read_members' },
  { path: 'groups', label: 'Groups', view: GroupsSection, needs: 'read_groups' },
  {
    path: 'access',
    label: 'Workspace access',
    view: AccessSection,
    needs: 'read_workspace_access',
  },
  { path: 'seats', label: 'Seats', view: SeatsSection, needs: 'read_seats' },
  { path: 'api-keys', label: 'API keys', view: ApiKeysSection, needs: 'read_workspace_api_keys' },
  { path: 'admin-keys', label: 'Admin keys', view: AdminKeysSection, needs: 'read_admin_keys' },
  { path: 'scim-tokens', label: 'SCIM tokens', view: ScimTokensSection, needs: 'read_scim_tokens' },
  { path: 'policies', label: 'Policies', view: PoliciesSection, needs: 'read_policies' },
  { path: 'audit', label: 'Audit log', view: AuditSection, needs: 'read_audit_log' },
]

export function AdminPage({ section }: { section: string }) {
  const found = ADMIN_SECTIONS.find((candidate) => candidate.path === section)
  if (!found) return <Page title="Administration">No such page.</Page>
  const View = found.view
  return (
    <Page title={found.label}>
      <View />
    </Page>
  )
}
