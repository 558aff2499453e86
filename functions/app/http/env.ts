import type { DecisionOptions, DecisionService } from '../../authz/decisions.js'
import type { Principal } from '../../domain/context.js'
import type { DecisionLogOptions, DecisionRecorder } from '../../domain/decision-log.js'
import type { AlertPublisher } from '../../lib/alert-bus.js'
import type { Clock } from '../../lib/clock.js'
import type { RequestLog } from '../../lib/logger.js'
import type { Db } from '../../store/db.js'
import type { WebhookUrlPolicy } from '../../webhooks/url.js'

/** What the app is built from; the entry points (Lambda, local server, tests) provide it. */
export interface AppDeps {
  db: Db
  clock: Clock
  /** The operator secret (`op_…`). */
  operatorKey: string
  /** Where budget alerts are published (EventBridge in AWS); none locally and in tests. */
  alertPublisher?: AlertPublisher | undefined
  /** The decision path (Cedar over cached store facts); one per process unless given. */
  decisions?: DecisionService | undefined
  /** Settings of the decision path made here when none is given (config.ts `decisionOptions`). */
  decisionOptions?: Partial<DecisionOptions> | undefined
  /** Settings of the decision log writer made here (Lambda: `mode: 'before-response'`). */
  decisionLogOptions?: Partial<DecisionLogOptions> | undefined
  /** Which webhook URLs are accepted (config.ts); strict (https only) unless given. */
  webhookUrls?: WebhookUrlPolicy | undefined
  /** Where the built browser console is (scripts/build-console.ts); none: /console is a 404. */
  consoleDir?: string | undefined
}

/**
 * The dependencies as requests see them: the decision service is always there, and the key
 * list cursors are sealed with (derived from the operator key, app/cursors.ts).
 */
export type RequestDeps = AppDeps & {
  decisions: DecisionService
  cursorKey: Buffer
  decisionLog: DecisionRecorder
}

export interface AppEnv {
  Variables: {
    requestId: string
    deps: RequestDeps
    log: RequestLog
    /** Set by the authenticate middleware on /v1 routes. */
    principal: Principal
  }
}
