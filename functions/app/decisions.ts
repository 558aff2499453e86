import { type DecisionOptions, DecisionService } from '../authz/decisions.js'
import type { Db } from '../store/db.js'
import { storeDecisionFacts } from '../store/decision-facts.js'
import { storeRateLimiter } from '../usage/rate-limiter.js'

/**
 * The decision service over the table: authz's service with the store's read adapter and the
 * rate limiter as its consumption gate (docs/rate-limits.md).
 */
export class StoreDecisionService extends DecisionService {
  constructor(db: Db, options: Partial<DecisionOptions> = {}) {
    super(storeDecisionFacts(db), options, storeRateLimiter(db))
  }
}
