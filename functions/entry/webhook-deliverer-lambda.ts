/**
 * Lambda entry for the webhook deliverer: an EventBridge Scheduler invocation (every minute)
 * sends the attempts that are due. It needs the table and outbound HTTPS only; a failure
 * throws and the next minute's run picks up whatever is still due (attempts are leased).
 */
import { lambdaConfig } from '../config.js'
import { systemClock } from '../lib/clock.js'
import { logger } from '../lib/logger.js'
import { runWebhookDeliveries } from '../webhooks/deliverer.js'
import { dbFromEnvironment } from './lambda-bootstrap.js'

const db = dbFromEnvironment(process.env)
const { webhookUrls } = lambdaConfig(process.env)

/** The EventBridge rule's event (infra/webhooks.ts); empty when the function is invoked by hand. */
interface ScheduledEvent {
  id?: string
  time?: string
}

export const handler = async (event: ScheduledEvent | null) => {
  const summary = await runWebhookDeliveries({ db, clock: systemClock, urlPolicy: webhookUrls })
  logger.info('webhook deliveries', { summary, event_id: event?.id, time: event?.time })
  return summary
}
