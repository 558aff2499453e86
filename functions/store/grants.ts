import type { PrincipalType, WorkspaceGrant } from '../model/index.js'
import { saveVersioned } from './collection.js'
import { ConditionFailedError, type Db, type Item, stripKeys } from './db.js'
import { keys } from './keys.js'
import { type Page, type PageRequest, paginate } from './pagination.js'

export interface PrincipalRef {
  type: PrincipalType
  id: string
}

function keyOf(orgId: string, workspaceId: string, principal: PrincipalRef) {
  return keys.grant(orgId, workspaceId, principal.type, principal.id)
}

function toGrant(item: Item): WorkspaceGrant {
  const { principal_type, principal_id, ...rest } = stripKeys<Record<string, unknown>>(item)
  return {
    ...(rest as Omit<WorkspaceGrant, 'principal'>),
    principal: { type: principal_type as PrincipalType, id: principal_id as string },
  } as WorkspaceGrant
}

function toItem(grant: WorkspaceGrant) {
  const { principal, ...rest } = grant
  return {
    ...rest,
    principal_type: principal.type,
    principal_id: principal.id,
    GSI1PK: keys.grantsOfPrincipal(grant.organization_id, principal.type, principal.id),
    GSI1SK: grant.workspace_id,
  }
}

/**
 * Workspace grants: `ORG#o` / `GRANT#<ws>#<member|group>#<id>`, one item per (workspace,
 * principal). Addressable by key (a decision reads its principals' grants in one workspace with
 * one BatchGet), listed per workspace by sort-key prefix, and per principal through GSI1
 * (`GRANTS#o#<type>#<id>`, eventually consistent) for effective access and cascades.
 */
export const grants = {
  async get(
    db: Db,
    orgId: string,
    workspaceId: string,
    principal: PrincipalRef
  ): Promise<WorkspaceGrant | undefined> {
    const item = await db.get(keyOf(orgId, workspaceId, principal))
    return item ? toGrant(item) : undefined
  },

  /** The grants of several principals in one workspace (BatchGet; absent ones are omitted). */
  async getMany(
    db: Db,
    orgId: string,
    workspaceId: string,
    principals: PrincipalRef[]
  ): Promise<WorkspaceGrant[]> {
    if (principals.length === 0) return []
    const items = await db.batchGet(principals.map((p) => keyOf(orgId, workspaceId, p)))
    return items.map(toGrant)
  },

  /** Bulk load (BatchWriteItem, unconditional): for seeding large organizations. */
  async putMany(db: Db, list: WorkspaceGrant[]): Promise<void> {
    await db.batchWrite(
      list.map((grant) => ({
        ...keyOf(grant.organization_id, grant.workspace_id, grant.principal),
        ...toItem(grant),
      })),
      [],
      4
    )
  },

  /** Writes a new grant; throws ConditionFailedError if one exists. */
  async create(db: Db, grant: WorkspaceGrant): Promise<void> {
    await db.create({
      ...keyOf(grant.organization_id, grant.workspace_id, grant.principal),
      ...toItem(grant),
    })
  },

  /** Optimistic update of the roles. Throws ConditionFailedError on a lost race. */
  async save(db: Db, grant: WorkspaceGrant, expectedVersion: number): Promise<WorkspaceGrant> {
    const { principal, ...record } = grant
    const saved = await saveVersioned(
      db,
      keyOf(grant.organization_id, grant.workspace_id, principal),
      record,
      expectedVersion
    )
    return { ...saved, principal }
  },

  /** Deletes the grant (only at `expectedVersion` when given); false when the condition fails. */
  async remove(
    db: Db,
    orgId: string,
    workspaceId: string,
    principal: PrincipalRef,
    expectedVersion?: number
  ): Promise<boolean> {
    try {
      await db.delete(
        keyOf(orgId, workspaceId, principal),
        expectedVersion === undefined
          ? { expression: 'attribute_exists(PK)' }
          : {
              expression: 'attribute_exists(PK) AND version = :expected',
              values: { ':expected': expectedVersion },
            }
      )
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },

  listForWorkspace(
    db: Db,
    orgId: string,
    workspaceId: string,
    page: PageRequest
  ): Promise<Page<WorkspaceGrant>> {
    return paginate(
      db,
      `grants:${orgId}:${workspaceId}`,
      { partition: keys.organization(orgId).PK, sort: { prefix: keys.grantPrefix(workspaceId) } },
      page,
      toGrant
    )
  },

  /** Every grant of one principal, across workspaces (GSI1; bounded by the workspace count). */
  async allOfPrincipal(db: Db, orgId: string, principal: PrincipalRef): Promise<WorkspaceGrant[]> {
    const items = await db.queryAll({
      index: 'GSI1',
      partition: keys.grantsOfPrincipal(orgId, principal.type, principal.id),
    })
    return items.map(toGrant)
  },
}
