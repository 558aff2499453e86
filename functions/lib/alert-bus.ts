import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'
import type { BudgetAlert } from '../model/index.js'

/** Where fired budget alerts go besides the store and the audit log. */
export interface AlertPublisher {
  publish(alert: BudgetAlert): Promise<void>
}

export const ALERT_EVENT_SOURCE = 'admin-engine.budgets'
export const ALERT_DETAIL_TYPE = 'Budget threshold crossed'

/**
 * Publishes alerts to the EventBridge bus `busName` (ALERT_BUS_NAME in AWS). Delivery is at
 * least once: consumers deduplicate on `detail.id`. A rejected entry is an error, so the run
 * fails and the alert is published again by the next run.
 */
export function eventBridgePublisher(
  busName: string,
  client = new EventBridgeClient({})
): AlertPublisher {
  return {
    async publish(alert) {
      const out = await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: busName,
              Source: ALERT_EVENT_SOURCE,
              DetailType: ALERT_DETAIL_TYPE,
              Detail: JSON.stringify(alert),
              Time: new Date(alert.fired_at),
            },
          ],
        })
      )
      if (out.FailedEntryCount) {
        const entry = out.Entries?.[0]
        throw new Error(
          `EventBridge rejected alert ${alert.id}: ${entry?.ErrorCode} ${entry?.ErrorMessage}`
        )
      }
    },
  }
}

/** The publisher for a configured bus (config.ts `lambdaConfig`): EventBridge, or none. */
export function alertPublisherFor(busName: string | undefined): AlertPublisher | undefined {
  return busName ? eventBridgePublisher(busName) : undefined
}
