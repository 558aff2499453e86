import { Page } from '../ui'
import { AccessSection, SeatsSection } from './admin-access'
import { AuditSection } from './admin-audit'
import { GroupsSection } from './admin-groups'
import { AdminKeysSection, ApiKeysSection, ScimTokensSection } from './admin-keys'
import { MembersSection } from './admin-members'
import { PoliciesSection } from './admin-policies'
import { WorkspacesSection } from './admin-workspaces'

/** The administration pages, each one resource of the Admin API. */
export const ADMIN_SECTIONS = [
  { path: 'workspaces', label: 'Workspaces', view: WorkspacesSection },
  { path: 'members', label: 'Members', view: MembersSection },
  { path: 'groups', label: 'Groups', view: GroupsSection },
  { path: 'access', label: 'Workspace access', view: AccessSection },
  { path: 'seats', label: 'Seats', view: SeatsSection },
  { path: 'api-keys', label: 'API keys', view: ApiKeysSection },
  { path: 'admin-keys', label: 'Admin keys', view: AdminKeysSection },
  { path: 'scim-tokens', label: 'SCIM tokens', view: ScimTokensSection },
  { path: 'policies', label: 'Policies', view: PoliciesSection },
  { path: 'audit', label: 'Audit log', view: AuditSection },
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
