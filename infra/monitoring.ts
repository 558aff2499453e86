import { Duration } from 'aws-cdk-lib'
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2'
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch'
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions'
import { Operation, type TableV2 } from 'aws-cdk-lib/aws-dynamodb'
import type { IFunction } from 'aws-cdk-lib/aws-lambda'
import { Topic } from 'aws-cdk-lib/aws-sns'
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions'
import type { IQueue } from 'aws-cdk-lib/aws-sqs'
import { Construct } from 'constructs'

const PERIOD = Duration.minutes(5)

/** The alarms and the topic they notify (subscribe to it, or pass `-c alarmEmail=…`). */
export class Monitoring extends Construct {
  readonly topic: Topic

  constructor(scope: Construct, id: string, props: { alarmEmail?: string }) {
    super(scope, id)
    this.topic = new Topic(this, 'AlarmTopic', { enforceSSL: true })
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail))
  }

  private alarm(
    id: string,
    metric: IMetric,
    description: string,
    options: { threshold?: number; evaluationPeriods?: number; datapointsToAlarm?: number } = {}
  ): Alarm {
    const alarm = new Alarm(this, id, {
      metric,
      alarmDescription: description,
      threshold: options.threshold ?? 1,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      datapointsToAlarm: options.datapointsToAlarm ?? 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    })
    alarm.addAlarmAction(new SnsAction(this.topic))
    return alarm
  }

  /** 5xx answers above `percent` of requests in 2 of 3 five-minute periods (≥ 10 requests). */
  apiServerErrors(api: HttpApi, percent = 5): Alarm {
    const rate = new MathExpression({
      expression: 'IF(requests >= 10, 100 * errors / requests, 0)',
      usingMetrics: {
        errors: api.metricServerError({ period: PERIOD, statistic: 'Sum' }),
        requests: api.metricCount({ period: PERIOD, statistic: 'Sum' }),
      },
      period: PERIOD,
      label: '5xx %',
    })
    return this.alarm('Api5xxRate', rate, `HTTP API answers 5xx to ≥ ${percent}% of requests`, {
      threshold: percent,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    })
  }

  /** Any invocation error or throttle of the function within five minutes. */
  functionHealth(name: string, fn: IFunction): Alarm[] {
    return [
      this.alarm(
        `${name}Errors`,
        fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
        `${name} Lambda invocations failed`
      ),
      this.alarm(
        `${name}Throttles`,
        fn.metricThrottles({ period: PERIOD, statistic: 'Sum' }),
        `${name} Lambda invocations were throttled`
      ),
    ]
  }

  /** A scheduled aggregation run that failed all its retries lands in the dead-letter queue. */
  failedAggregationRuns(deadLetterQueue: IQueue): Alarm {
    return this.alarm(
      'AggregationFailedRuns',
      deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: PERIOD,
        statistic: 'Maximum',
      }),
      'Scheduled aggregation runs failed after retries (messages in the dead-letter queue)'
    )
  }

  /** Any throttled request on the operations the functions issue. */
  tableThrottling(table: TableV2): Alarm {
    const throttled = table.metricThrottledRequestsForOperations({
      operations: [
        Operation.GET_ITEM,
        Operation.PUT_ITEM,
        Operation.UPDATE_ITEM,
        Operation.DELETE_ITEM,
        Operation.QUERY,
        Operation.BATCH_GET_ITEM,
        Operation.BATCH_WRITE_ITEM,
      ],
      period: PERIOD,
    })
    return this.alarm('TableThrottling', throttled, 'DynamoDB throttled requests on the table')
  }
}
