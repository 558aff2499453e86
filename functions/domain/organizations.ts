import { notFound } from '../lib/errors.js'
import { newId } from '../lib/ids.js'
import type { AdminKey, Organization, OrganizationSettings, Workspace } from '../model/index.js'
import { organizations } from '../store/organizations.js'
import type { PageRequest } from '../store/pagination.js'
import { workspaces } from '../store/workspaces.js'
import { recordAudit } from './audit.js'
import type { ServiceContext } from './context.js'
import { createAdminKey, type WithSecret } from './keys.js'
import { updateVersioned } from './versioning.js'
import { buildWorkspace } from './workspaces.js'

export interface NewOrganization {
  name: string
  currency?: string | undefined
}

export interface OrganizationPatch {
  name?: string | undefined
  settings?: Partial<OrganizationSettings> | undefined
}

export interface CreatedOrganization {
  organization: Organization
  default_workspace: Workspace
  admin_key: WithSecret<AdminKey>
}

/**
 * Creates an organization with its default workspace and a first organization_admin key.
 * Without transactions the writes are ordered so that a crash leaves nothing usable: the
 * workspace first, then the organization item (which makes it visible), then the admin key.
 * On failure the written items are removed again.
 */
export async function createOrganization(
  ctx: ServiceContext,
  input: NewOrganization
): Promise<CreatedOrganization> {
  const now = ctx.clock.now()
  const organizationId = newId('organization', now)
  const defaultWorkspace = buildWorkspace(
    organizationId,
    { name: 'Default', description: null },
    now,
    true
  )
  const organization: Organization = {
    id: organizationId,
    object: 'organization',
    name: input.name,
    currency: (input.currency ?? 'USD').toUpperCase(),
    settings: { api_key_max_validity_days: null },
    default_workspace_id: defaultWorkspace.id,
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
    version: 1,
  }
  await workspaces.create(ctx.db, organizationId, defaultWorkspace)
  let adminKey: WithSecret<AdminKey>
  try {
    await organizations.create(ctx.db, organization)
    await recordAudit(ctx, organizationId, {
      event_type: 'organization.created',
      target: { type: 'organization', id: organizationId },
      after: organization,
    })
    await recordAudit(ctx, organizationId, {
      event_type: 'workspace.created',
      target: { type: 'workspace', id: defaultWorkspace.id },
      workspace_id: defaultWorkspace.id,
      after: defaultWorkspace,
    })
    adminKey = await createAdminKey(ctx, organizationId, {
      name: 'Initial admin key',
      org_roles: ['organization_admin'],
    })
  } catch (error) {
    await organizations.remove(ctx.db, organizationId).catch(() => undefined)
    await workspaces.remove(ctx.db, organizationId, defaultWorkspace.id).catch(() => undefined)
    throw error
  }
  return { organization, default_workspace: defaultWorkspace, admin_key: adminKey }
}

export async function getOrganization(
  ctx: ServiceContext,
  organizationId: string
): Promise<Organization> {
  const organization = await organizations.get(ctx.db, organizationId)
  if (!organization) throw notFound('organization', organizationId, 'id')
  return organization
}

export function listOrganizations(ctx: ServiceContext, page: PageRequest) {
  return organizations.list(ctx.db, page)
}

export async function updateOrganization(
  ctx: ServiceContext,
  organizationId: string,
  patch: OrganizationPatch,
  expectedVersion?: number
): Promise<Organization> {
  const result = await updateVersioned<Organization>({
    load: () => organizations.get(ctx.db, organizationId),
    missing: () => notFound('organization', organizationId, 'id'),
    expectedVersion,
    apply: (current) => {
      const next: Organization = {
        ...current,
        name: patch.name ?? current.name,
        settings: { ...current.settings, ...patch.settings },
      }
      const same = JSON.stringify(next) === JSON.stringify(current)
      return same ? undefined : { ...next, updated_at: ctx.clock.now().toISOString() }
    },
    save: (next, version) => organizations.save(ctx.db, next, version),
  })
  if (result.changed) {
    await recordAudit(ctx, organizationId, {
      event_type: 'organization.updated',
      target: { type: 'organization', id: organizationId },
      before: result.before,
      after: result.after,
    })
  }
  return result.after
}
