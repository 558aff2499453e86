import { walkNesting } from '../lib/group-nesting.js'
import type {
  AuthorizationRequest,
  CedarValue,
  DecisionError,
  EntityJson,
  EntityRef,
} from './engine.js'
import {
  apiKeyEntity,
  cedarDatetime,
  memberEntities,
  organizationEntity,
  type ReachedGroup,
  workspaceEntity,
} from './entities.js'
import type { OrgFactReader } from './fact-loader.js'

/** A product decision as `/v1/authorize` asks it (already shape-checked by the route). */
export interface ProductRequest {
  principal: { type: 'Member' | 'ApiKey'; id: string }
  action: string
  resource: { type: 'Workspace'; id: string }
  /** The caller's context (`model`, `source_ip`); `now` is added by the engine. */
  context?: Record<string, unknown> | undefined
}

/** The Cedar request of a product decision, or the errors that deny it before Cedar. */
export type BuiltRequest = { request: AuthorizationRequest } | { errors: DecisionError[] }

/** Entities ready for Cedar, or why there are none. */
type Prepared =
  | { principal: EntityRef; resource: EntityRef; entities: EntityJson[] }
  | { errors: DecisionError[] }

/**
 * Builds the Cedar requests of product decisions from one organization's facts (one snapshot):
 * the entities of each (principal, workspace) are built once and kept, so a repeated decision
 * only adds its action and context.
 */
export class RequestBuilder {
  private readonly prepared = new Map<string, Promise<Prepared>>()

  constructor(
    private readonly facts: OrgFactReader,
    private readonly maxEntries: number
  ) {}

  async build(request: ProductRequest, now: Date): Promise<BuiltRequest> {
    const context = contextOf(request.context, now)
    if ('error' in context) return { errors: [context.error] }
    const key = JSON.stringify([request.principal.type, request.principal.id, request.resource.id])
    let prepared = this.prepared.get(key)
    if (!prepared) {
      prepared = this.prepare(request.principal, request.resource.id)
      const pending = prepared
      pending.catch(() => {
        if (this.prepared.get(key) === pending) this.prepared.delete(key)
      })
      if (this.prepared.size >= this.maxEntries) {
        this.prepared.delete(this.prepared.keys().next().value!)
      }
      this.prepared.set(key, prepared)
    }
    const entities = await prepared
    if ('errors' in entities) return entities
    return {
      request: {
        principal: entities.principal,
        action: request.action,
        resource: entities.resource,
        entities: entities.entities,
        context: context.value,
      },
    }
  }

  /**
   * Reads what the request names and builds its entities (docs/authorization.md). A member
   * costs one read round (organization, workspace, budget, member, seats, own grant) plus one
   * per nesting level of its groups (each level's groups with their grants); an API key one
   * round, two when it belongs to a member.
   */
  private async prepare(
    principal: ProductRequest['principal'],
    workspaceId: string
  ): Promise<Prepared> {
    const { facts } = this
    const orgId = facts.organizationId
    const isMember = principal.type === 'Member'
    const [organization, workspace, suspended, subject, ownRoles] = await Promise.all([
      facts.organization(),
      facts.workspace(workspaceId),
      facts.workspaceBudget(workspaceId),
      isMember ? facts.member(principal.id) : facts.apiKey(principal.id),
      isMember ? facts.grant({ workspaceId, type: 'member', id: principal.id }) : null,
    ])
    if (!organization) {
      return { errors: [{ code: 'unknown_resource', message: `No organization '${orgId}'.` }] }
    }
    const errors: DecisionError[] = []
    if (!subject) {
      errors.push({
        code: 'unknown_principal',
        message: `No ${isMember ? 'member' : 'API key'} '${principal.id}' in organization '${orgId}'.`,
      })
    }
    if (!workspace) {
      errors.push({
        code: 'unknown_resource',
        message: `No workspace '${workspaceId}' in organization '${orgId}'.`,
      })
    }
    if (!subject || !workspace) return { errors }

    const base = [organizationEntity(organization), workspaceEntity(orgId, workspace, suspended)]
    const principalRef = { type: principal.type, id: principal.id }
    const resource = { type: 'Workspace', id: workspaceId }
    if ('groupIds' in subject) {
      const groups = await this.groupClosure(subject.groupIds, workspaceId)
      return {
        principal: principalRef,
        resource,
        entities: [...base, ...memberEntities(orgId, workspaceId, subject, ownRoles ?? [], groups)],
      }
    }
    const owner = subject.memberId ? await facts.member(subject.memberId) : undefined
    const memberActive = subject.memberId ? owner?.status === 'active' : true
    return {
      principal: principalRef,
      resource,
      entities: [...base, apiKeyEntity(orgId, subject, memberActive)],
    }
  }

  /**
   * Every group containing the member, nesting included, with its roles in the workspace: one
   * read round per nesting level, each reading the level's groups and their grants together.
   */
  private async groupClosure(
    direct: readonly string[],
    workspaceId: string
  ): Promise<Map<string, ReachedGroup>> {
    const { facts } = this
    const walked = await walkNesting(
      direct,
      async (ids) => {
        const [groups, roles] = await Promise.all([
          Promise.all(ids.map((id) => facts.group(id))),
          Promise.all(ids.map((id) => facts.grant({ workspaceId, type: 'group', id }))),
        ])
        const level = new Map<string, ReachedGroup>()
        groups.forEach((group, index) => {
          if (group) level.set(ids[index]!, { facts: group, roles: roles[index] ?? [] })
        })
        return level
      },
      (reached) => reached.facts.parentIds
    )
    return new Map([...walked].map(([id, { node }]) => [id, node]))
  }
}

/**
 * The Cedar context: the caller's fields (checked by Cedar against the schema, so an unknown
 * field is a deny naming it) and `now`, which only the server sets.
 */
function contextOf(
  caller: Record<string, unknown> | undefined,
  now: Date
): { value: Record<string, CedarValue> } | { error: DecisionError } {
  if (caller && 'now' in caller) {
    return {
      error: {
        code: 'invalid_request',
        message: 'context.now is set by the server; leave it out.',
      },
    }
  }
  return {
    value: {
      ...(caller as Record<string, CedarValue> | undefined),
      now: cedarDatetime(now.toISOString()),
    },
  }
}
