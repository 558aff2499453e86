/**
 * Lambda entry for the usage aggregation: an EventBridge Scheduler invocation runs one pass.
 * A failure throws, so Lambda retries the run and finally sends the event to the dead-letter
 * queue (infra/aggregation.ts).
 */
import { lambdaConfig } from '../config.js'
import { alertPublisherFor } from '../lib/alert-bus.js'
import { systemClock } from '../lib/clock.js'
import { logger } from '../lib/logger.js'
import { runAggregation } from '../usage/aggregation.js'
import { dbFromEnvironment } from './lambda-bootstrap.js'

/** The schedule's input (infra/aggregation.ts); empty when the function is invoked by hand. */
interface ScheduledRun {
  scheduled_time?: string
  execution_id?: string
  attempt?: string
}

const config = lambdaConfig(process.env)
const db = dbFromEnvironment(process.env)
const publisher = alertPublisherFor(config.alertBusName)

export const handler = async (event: ScheduledRun | null) => {
  // The execution id is also in a dead-letter message's body: it finds the run's log lines.
  const { scheduled_time, execution_id, attempt } = event ?? {}
  const summary = await runAggregation({ db, clock: systemClock, publisher })
  logger.info('aggregation run', { summary, scheduled_time, execution_id, attempt })
  return summary
}
