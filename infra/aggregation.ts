import { Duration } from 'aws-cdk-lib'
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb'
import type { IEventBus } from 'aws-cdk-lib/aws-events'
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs'
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler'
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets'
import type { IQueue } from 'aws-cdk-lib/aws-sqs'
import { Construct } from 'constructs'
import { createNodeFunction } from './bundling.js'
import { grantTableData } from './permissions.js'

export interface AggregationJobProps {
  /** The job's Lambda entry (exports `handler`; throws when a run fails). */
  entry: string
  table: TableV2
  alertBus: IEventBus
  deadLetterQueue: IQueue
  /** EventBridge Scheduler expression, e.g. `rate(5 minutes)`. */
  schedule: string
}

/**
 * The aggregation function on an EventBridge Scheduler schedule. A failed run (the handler
 * throws) is retried by the scheduler, then its event goes to the dead-letter queue. The
 * function may publish budget alerts to the bus named by ALERT_BUS_NAME.
 */
export class AggregationJob extends Construct {
  readonly function: NodejsFunction
  readonly schedule: Schedule

  constructor(scope: Construct, id: string, props: AggregationJobProps) {
    super(scope, id)
    this.function = createNodeFunction(this, 'Function', {
      entry: props.entry,
      description: 'Admin engine usage aggregation (scheduled)',
      environment: {
        TABLE_NAME: props.table.tableName,
        ALERT_BUS_NAME: props.alertBus.eventBusName,
      },
      timeout: Duration.minutes(4),
    })
    grantTableData(props.table, this.function)
    props.alertBus.grantPutEventsTo(this.function)

    this.schedule = new Schedule(this, 'Schedule', {
      description: 'Runs the usage aggregation',
      schedule: ScheduleExpression.expression(props.schedule),
      target: new LambdaInvoke(this.function, {
        input: ScheduleTargetInput.fromObject({
          source: 'admin-engine.scheduler',
          scheduled_time: ContextAttribute.scheduledTime,
          execution_id: ContextAttribute.executionId,
          attempt: ContextAttribute.attemptNumber,
        }),
        retryAttempts: 2,
        // A run older than one interval is superseded by the next one.
        maxEventAge: Duration.minutes(5),
        deadLetterQueue: props.deadLetterQueue,
      }),
    })
  }
}
