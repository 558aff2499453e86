import type { BudgetAlert, BudgetState, Enforcement } from '../../model/index.js'
import { saveVersioned } from '../collection.js'
import { ConditionFailedError, type Db, type Item, type Key, stripKeys } from '../db.js'
import { keys } from '../keys.js'
import { scopeName, type UsageScope } from './scope.js'

/** A spend limit as stored (`ORG#o` / `SPEND_LIMIT#ORG` or `SPEND_LIMIT#WS#w`). */
export interface StoredSpendLimit extends UsageScope {
  /** Integer micro-units; null = no limit. */
  monthly_limit_micros: number | null
  alert_thresholds_percent: number[]
  enforcement: Enforcement
  updated_at: string
  version: number
}

/** A scope's budget as of the last evaluation (`ORG#o` / `BUDGET#ORG` or `BUDGET#WS#w`). */
export interface StoredBudget extends UsageScope {
  month: string
  spend_micros: number
  limit_micros: number | null
  enforcement: Enforcement
  alert_thresholds_percent: number[]
  percent_used: number | null
  forecast_micros: number
  state: BudgetState
  suspended: boolean
  /** The alerts fired for this scope in `month`. */
  alerts: BudgetAlert[]
  last_evaluated_at: string
}

/** An alert as stored: `delivered` once it is in the audit log and published. */
export interface StoredAlert extends BudgetAlert {
  audit_event_id: string
  delivered: boolean
}

export const spendLimits = {
  async get(db: Db, scope: UsageScope): Promise<StoredSpendLimit | undefined> {
    const item = await db.get(keys.spendLimit(scope.organization_id, scope.workspace_id))
    return item ? stripKeys<StoredSpendLimit>(item) : undefined
  },

  /** The limits of these scopes that exist, by `scopeName`. */
  async getMany(db: Db, scopes: readonly UsageScope[]): Promise<Map<string, StoredSpendLimit>> {
    const items = await db.batchGet(
      scopes.map((s) => keys.spendLimit(s.organization_id, s.workspace_id)),
      { concurrency: 4 }
    )
    return new Map(
      items.map((item) => {
        const limit = stripKeys<StoredSpendLimit>(item)
        return [scopeName(limit), limit]
      })
    )
  },

  /** Every workspace limit of an organization (bounded by its number of workspaces). */
  async listWorkspaceLimits(db: Db, orgId: string): Promise<StoredSpendLimit[]> {
    const items = await db.queryAll({
      partition: keys.organization(orgId).PK,
      sort: { prefix: keys.workspaceSpendLimitPrefix },
    })
    return items.map((item) => stripKeys<StoredSpendLimit>(item))
  },

  /** Every scope with a limit item in the deployment (GSI1, eventually consistent). */
  async listAllScopes(db: Db): Promise<UsageScope[]> {
    const items = await db.queryAll({ index: 'GSI1', partition: keys.spendLimitsIndex })
    return items.map((item) => ({
      organization_id: item.organization_id as string,
      workspace_id: (item.workspace_id as string | null | undefined) ?? null,
    }))
  },

  async create(db: Db, limit: StoredSpendLimit): Promise<void> {
    await db.create({ ...itemKeys(limit), ...limit })
  },

  save(db: Db, limit: StoredSpendLimit, expectedVersion: number): Promise<StoredSpendLimit> {
    const { PK, SK, ...index } = itemKeys(limit)
    return saveVersioned(db, { PK, SK }, limit, expectedVersion, index)
  },
}

function itemKeys(limit: UsageScope) {
  return {
    ...keys.spendLimit(limit.organization_id, limit.workspace_id),
    GSI1PK: keys.spendLimitsIndex,
    GSI1SK: `${limit.organization_id}#${limit.workspace_id ?? 'ORG'}`,
  }
}

/**
 * What a decision reads of budgets: whether a scope's hard limit suspends it, as of the last
 * aggregation run (no state yet: not suspended). The decision read path (`readDecisionFacts`)
 * gets `budgetStateKey(scope)` in its one BatchGetItem with its other facts and answers with
 * `isSuspended`; nothing else reads a budget state for a decision.
 */
export function budgetStateKey(scope: UsageScope): Key {
  return keys.budgetState(scope.organization_id, scope.workspace_id)
}

export function isSuspended(budgetState: Item | undefined): boolean {
  return budgetState?.suspended === true
}

export const budgetStates = {
  /** The states of these scopes that exist, by `scopeName`. */
  async getMany(db: Db, scopes: readonly UsageScope[]): Promise<Map<string, StoredBudget>> {
    const items = await db.batchGet(scopes.map(budgetStateKey), { concurrency: 4 })
    return new Map(
      items.map((item) => {
        const budget = stripKeys<StoredBudget>(item)
        return [scopeName(budget), budget]
      })
    )
  },

  /** Written only by the aggregation job, which holds the job lock: last write wins. */
  async putMany(db: Db, budgets: readonly StoredBudget[]): Promise<void> {
    await db.batchWrite(
      budgets.map((budget) => ({
        ...budgetStateKey(budget),
        ...budget,
      })),
      [],
      4
    )
  },
}

export const budgetAlerts = {
  /** Creates the alert of (scope, month, threshold); false if it exists already. */
  async create(db: Db, alert: StoredAlert): Promise<boolean> {
    try {
      await db.create({ ...alertKey(alert), ...alert })
      return true
    } catch (error) {
      if (error instanceof ConditionFailedError) return false
      throw error
    }
  },

  async get(db: Db, alert: BudgetAlert): Promise<StoredAlert | undefined> {
    const item = await db.get(alertKey(alert))
    return item ? (stripKeys<StoredAlert>(item as Item) as StoredAlert) : undefined
  },

  async markDelivered(db: Db, alert: BudgetAlert): Promise<void> {
    await db.update(alertKey(alert), {
      expression: 'SET delivered = :true',
      values: { ':true': true },
    })
  },
}

function alertKey(alert: BudgetAlert) {
  return keys.budgetAlert(
    alert.organization_id,
    alert.workspace_id,
    alert.month,
    alert.threshold_percent
  )
}
