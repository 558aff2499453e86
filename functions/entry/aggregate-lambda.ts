/**
 * Lambda entry for the usage aggregation: an EventBridge Scheduler invocation runs one pass.
 * A failure throws, so the scheduler retries and finally sends the event to its DLQ.
 */
import { runAggregation } from '../domain/aggregation.js'
import { dbFromEnvironment } from '../lambda/bootstrap.js'
import { alertPublisherFromEnv } from '../lib/alert-bus.js'
import { systemClock } from '../lib/clock.js'
import { logger } from '../lib/logger.js'

const db = dbFromEnvironment()
const publisher = alertPublisherFromEnv()

export const handler = async () => {
  const summary = await runAggregation({ db, clock: systemClock, publisher })
  logger.info('aggregation run', { summary })
  return summary
}
