import { type DecisionOptions, DecisionService } from '../authz/decisions.js'
import type { Db } from '../store/db.js'
import { storeDecisionFacts } from '../store/decision-facts.js'

/** The decision service over the table: authz's service with the store's read adapter. */
export class StoreDecisionService extends DecisionService {
  constructor(db: Db, options: Partial<DecisionOptions> = {}) {
    super(storeDecisionFacts(db), options)
  }
}
