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
 * How long one run may take. The job (functions/usage/aggregation.ts) starts no new round after
 * 4 minutes, so the last round and the budget evaluation get the fifth. The run renews its
 * 30-second lease while it works, so the timeout need not fit in the lease: a run killed at the
 * timeout stops renewing and is replaced within 30 s, and the writes it had in flight cannot
 * count twice (totals take only round ids above their last one). test/infra-stack.test.ts checks
 * these against the job's constants.
 */
export const AGGREGATION_TIMEOUT = Duration.minutes(5)

/**
 * A failed run is retried this often, and a run older than this is dropped (the next scheduled
 * run picks up whatever it left; one that timed out is already older). Both then go to the
 * dead-letter queue. The same policy applies to the scheduler's delivery and to the function.
 */
export const AGGREGATION_RETRY_ATTEMPTS = 2
export const AGGREGATION_MAX_EVENT_AGE = Duration.minutes(5)

/**
 * The aggregation function on an EventBridge Scheduler schedule. The scheduler invokes Lambda
 * asynchronously, so failures are handled in two places with one policy: the scheduler retries
 * an invocation it could not deliver (throttled, no permission), Lambda retries a run whose
 * handler threw or timed out; either sends the scheduler's input to the dead-letter queue when
 * its retries are exhausted (with the error in the message attributes). The function publishes
 * budget alerts to the bus named by ALERT_BUS_NAME and makes no Cedar decisions.
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
      timeout: AGGREGATION_TIMEOUT,
      cedar: false,
      asyncInvocation: {
        retryAttempts: AGGREGATION_RETRY_ATTEMPTS,
        maxEventAge: AGGREGATION_MAX_EVENT_AGE,
        deadLetterQueue: props.deadLetterQueue,
      },
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
        retryAttempts: AGGREGATION_RETRY_ATTEMPTS,
        maxEventAge: AGGREGATION_MAX_EVENT_AGE,
        deadLetterQueue: props.deadLetterQueue,
      }),
    })
  }
}
