/**
 * Lambda entry for the webhook deliverer: an EventBridge Scheduler invocation (every minute)
 * sends the attempts that are due. It needs the table and outbound HTTPS only; a failure
 * throws and the next minute's run picks up whatever is still due (attempts are leased).
 */
import { systemClock } from '../lib/clock.js'
import { logger } from '../lib/logger.js'
import { runWebhookDeliveries } from '../webhooks/deliverer.js'
import { dbFromEnvironment } from './lambda-bootstrap.js'

const db = dbFromEnvironment(process.env)

export const handler = async (event: { scheduled_time?: string } | null) => {
  const summary = await runWebhookDeliveries({ db, clock: systemClock })
  logger.info('webhook deliveries', { summary, scheduled_time: event?.scheduled_time })
  return summary
}
