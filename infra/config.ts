import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Node } from 'constructs'

/** The aggregation job's Lambda entry (issue 5); the stack adds the scheduled job when it exists. */
export const AGGREGATE_ENTRY = fileURLToPath(
  new URL('../functions/entry/aggregate-lambda.ts', import.meta.url)
)

/** The webhook deliverer's Lambda entry; the stack adds it (every minute) when it exists. */
export const WEBHOOK_DELIVERER_ENTRY = fileURLToPath(
  new URL('../functions/entry/webhook-deliverer-lambda.ts', import.meta.url)
)

export const DEFAULT_SCHEDULE = 'rate(5 minutes)'

/** What a deployment is parameterised by: CDK context (`-c stage=prod -c schedule=…`). */
export interface StackConfig {
  /** Names the stack (`AdminEngine-<stage>`) and tags every resource. */
  stage: string
  /** EventBridge Scheduler expression of the aggregation job. */
  schedule: string
  /** Subscribed to the alarm topic when given. */
  alarmEmail?: string
  /** The aggregation job's entry file; no scheduled job without it. */
  aggregationEntry?: string
  /** The webhook deliverer's entry file; no deliverer without it. */
  webhookDelivererEntry?: string
}

const STAGE = /^[a-z][a-z0-9-]{0,19}$/
const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/
const CRON = /^cron\([^()]+\)$/
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/

/** Checks a Scheduler expression the way EventBridge Scheduler will (singular unit for 1). */
export function checkSchedule(expression: string): string {
  const rate = RATE.exec(expression)
  if (rate) {
    const count = Number(rate[1])
    const singular = !rate[2]!.endsWith('s')
    if (count < 1 || (count === 1) !== singular) {
      throw new Error(
        `schedule ${expression}: use "rate(1 minute)" for one unit and the plural otherwise`
      )
    }
    return expression
  }
  if (CRON.test(expression)) return expression
  throw new Error(
    `schedule must be "rate(<n> minutes|hours|days)" or "cron(…)", got ${JSON.stringify(expression)}`
  )
}

function contextString(node: Node, key: string): string | undefined {
  const value = node.tryGetContext(key)
  if (value === undefined || value === null || value === '') return undefined
  return String(value)
}

export function readStackConfig(node: Node, entryExists = existsSync): StackConfig {
  const stage = contextString(node, 'stage') ?? 'dev'
  if (!STAGE.test(stage)) {
    throw new Error(`stage must be lowercase letters, digits and dashes (≤ 20), got ${stage}`)
  }
  const schedule = checkSchedule(contextString(node, 'schedule') ?? DEFAULT_SCHEDULE)
  const alarmEmail = contextString(node, 'alarmEmail')
  if (alarmEmail !== undefined && !EMAIL.test(alarmEmail)) {
    throw new Error(`alarmEmail is not an e-mail address: ${alarmEmail}`)
  }
  return {
    stage,
    schedule,
    ...(alarmEmail ? { alarmEmail } : {}),
    ...(entryExists(AGGREGATE_ENTRY) ? { aggregationEntry: AGGREGATE_ENTRY } : {}),
    ...(entryExists(WEBHOOK_DELIVERER_ENTRY)
      ? { webhookDelivererEntry: WEBHOOK_DELIVERER_ENTRY }
      : {}),
  }
}

export function stackName(stage: string): string {
  return `AdminEngine-${stage}`
}
