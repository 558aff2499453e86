import { conflict, notFound } from '../lib/errors.js'
import { newId } from '../lib/ids.js'
import type { Workspace } from '../model/index.js'
import type { PageRequest } from '../store/pagination.js'
import { workspaces } from '../store/workspaces.js'
import { recordAudit } from './audit.js'
import type { ServiceContext } from './context.js'
import { updateVersioned } from './versioning.js'

export interface NewWorkspace {
  name: string
  description?: string | null | undefined
}

export interface WorkspacePatch {
  name?: string | undefined
  description?: string | null | undefined
}

/** A workspace record for a new organization or a create request (not yet stored). */
export function buildWorkspace(
  organizationId: string,
  input: NewWorkspace,
  now: Date,
  isDefault = false
): Workspace {
  const at = now.toISOString()
  return {
    id: newId('workspace', now),
    object: 'workspace',
    organization_id: organizationId,
    name: input.name,
    description: input.description ?? null,
    is_default: isDefault,
    status: 'active',
    archived_at: null,
    created_at: at,
    updated_at: at,
    version: 1,
  }
}

export async function createWorkspace(
  ctx: ServiceContext,
  organizationId: string,
  input: NewWorkspace
): Promise<Workspace> {
  const workspace = buildWorkspace(organizationId, input, ctx.clock.now())
  await workspaces.create(ctx.db, organizationId, workspace)
  await recordAudit(ctx, organizationId, {
    event_type: 'workspace.created',
    target: { type: 'workspace', id: workspace.id },
    workspace_id: workspace.id,
    after: workspace,
  })
  return workspace
}

export async function getWorkspace(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string,
  param = 'id'
): Promise<Workspace> {
  const workspace = await workspaces.get(ctx.db, organizationId, workspaceId)
  if (!workspace) throw notFound('workspace', workspaceId, param)
  return workspace
}

export function listWorkspaces(
  ctx: ServiceContext,
  organizationId: string,
  page: PageRequest,
  status?: Workspace['status']
) {
  return workspaces.list(ctx.db, organizationId, page, {
    ...(status
      ? {
          filter: {
            expression: '#status = :status',
            names: { '#status': 'status' },
            values: { ':status': status },
          },
        }
      : {}),
  })
}

export function updateWorkspace(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string,
  patch: WorkspacePatch,
  expectedVersion?: number
): Promise<Workspace> {
  return changeWorkspace(
    ctx,
    organizationId,
    workspaceId,
    'workspace.updated',
    expectedVersion,
    (current) => {
      const next = {
        ...current,
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
      }
      return next.name === current.name && next.description === current.description
        ? undefined
        : next
    }
  )
}

/** Archiving is idempotent: archiving an archived workspace changes nothing. */
export function archiveWorkspace(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string
): Promise<Workspace> {
  return changeWorkspace(
    ctx,
    organizationId,
    workspaceId,
    'workspace.archived',
    undefined,
    (current) => {
      if (current.is_default) {
        throw conflict('The default workspace cannot be archived.', 'id')
      }
      if (current.status === 'archived') return undefined
      return { ...current, status: 'archived', archived_at: ctx.clock.now().toISOString() }
    }
  )
}

export function unarchiveWorkspace(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string
): Promise<Workspace> {
  return changeWorkspace(
    ctx,
    organizationId,
    workspaceId,
    'workspace.unarchived',
    undefined,
    (current) =>
      current.status === 'active' ? undefined : { ...current, status: 'active', archived_at: null }
  )
}

async function changeWorkspace(
  ctx: ServiceContext,
  organizationId: string,
  workspaceId: string,
  eventType: string,
  expectedVersion: number | undefined,
  apply: (current: Workspace) => Workspace | undefined
): Promise<Workspace> {
  const result = await updateVersioned<Workspace>({
    load: () => workspaces.get(ctx.db, organizationId, workspaceId),
    missing: () => notFound('workspace', workspaceId, 'id'),
    expectedVersion,
    apply: (current) => {
      const next = apply(current)
      return next && { ...next, updated_at: ctx.clock.now().toISOString() }
    },
    save: (next, version) => workspaces.save(ctx.db, organizationId, next, version),
  })
  if (result.changed) {
    await recordAudit(ctx, organizationId, {
      event_type: eventType,
      target: { type: 'workspace', id: workspaceId },
      workspace_id: workspaceId,
      before: result.before,
      after: result.after,
    })
  }
  return result.after
}
