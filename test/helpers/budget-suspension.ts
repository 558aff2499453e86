import type { Db } from '../../functions/store/db.js'
import { readDecisionFacts } from '../../functions/store/decision-facts.js'

/**
 * Whether the organization's and the workspace's hard limits suspend them, read exactly as a
 * product decision reads them (`readDecisionFacts`, the decision path's one BatchGetItem), so
 * the budget tests check what `/v1/authorize` will see.
 */
export async function budgetSuspension(
  db: Db,
  organizationId: string,
  workspaceId: string
): Promise<{ organization: boolean; workspace: boolean }> {
  const facts = await readDecisionFacts(db, organizationId, {
    organization: true,
    workspaceBudgets: [workspaceId],
  })
  return {
    organization: facts.organization?.suspended ?? false,
    workspace: facts.workspaceBudgets.get(workspaceId) ?? false,
  }
}
