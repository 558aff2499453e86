import { Duration } from 'aws-cdk-lib'
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb'
import { Rule, Schedule } from 'aws-cdk-lib/aws-events'
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets'
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs'
import { Construct } from 'constructs'
import { createNodeFunction } from './bundling.js'
import { grantTableData } from './permissions.js'

export interface WebhookDelivererProps {
  /** The deliverer's Lambda entry (exports `handler`). */
  entry: string
  table: TableV2
}

/**
 * How long one run may take: it starts no new batch after 40 s (DELIVERY_RUN_BUDGET_MS) and an
 * attempt waits at most 10 s, so 90 s covers the last batch and its writes. Runs may overlap
 * (one a minute): each attempt is leased in the table, so none is sent twice.
 */
export const DELIVERER_TIMEOUT = Duration.seconds(90)

/**
 * The webhook deliverer: a function on an EventBridge rule every minute that sends the due
 * attempts from the outbox in the table. Least privilege: the table's data actions only, no
 * other AWS service, no function URL or API of ours (receivers are reached over outbound
 * HTTPS, which a function outside a VPC has). A failed run is not retried by Lambda: the next
 * minute's run finds the same due attempts.
 */
export class WebhookDeliverer extends Construct {
  readonly function: NodejsFunction
  readonly rule: Rule

  constructor(scope: Construct, id: string, props: WebhookDelivererProps) {
    super(scope, id)
    this.function = createNodeFunction(this, 'Function', {
      entry: props.entry,
      description: 'Admin engine webhook deliverer (every minute)',
      environment: { TABLE_NAME: props.table.tableName },
      timeout: DELIVERER_TIMEOUT,
      memorySize: 512,
      cedar: false,
    })
    grantTableData(props.table, this.function)
    this.rule = new Rule(this, 'Schedule', {
      description: 'Sends due webhook attempts',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.function, { retryAttempts: 0 })],
    })
  }
}
