import { CfnOutput, Duration, Stack, type StackProps, Tags } from 'aws-cdk-lib'
import { EventBus } from 'aws-cdk-lib/aws-events'
import { Secret } from 'aws-cdk-lib/aws-secretsmanager'
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs'
import type { Construct } from 'constructs'
import { AggregationJob } from './aggregation.js'
import { AdminApi } from './api.js'
import type { StackConfig } from './config.js'
import { Monitoring } from './monitoring.js'
import { createTable } from './table.js'
import { WebhookDeliverer } from './webhooks.js'

export type AdminEngineStackProps = StackProps & StackConfig

/**
 * One deployment: the single table, the operator secret, the HTTP API and its function, the
 * budget-alert bus, the aggregation job on a schedule (when its entry exists) with its
 * dead-letter queue, and the alarms.
 */
export class AdminEngineStack extends Stack {
  readonly api: AdminApi
  readonly aggregation?: AggregationJob
  readonly webhookDeliverer?: WebhookDeliverer

  constructor(scope: Construct, id: string, props: AdminEngineStackProps) {
    const { stage, schedule, alarmEmail, aggregationEntry, webhookDelivererEntry, ...stackProps } =
      props
    super(scope, id, {
      description: `Admin engine (${stage}): policy and usage engine for the Admin Panel`,
      ...stackProps,
    })
    Tags.of(this).add('app', 'admin-engine')
    Tags.of(this).add('stage', stage)

    const table = createTable(this, 'Table')
    const operatorSecret = new Secret(this, 'OperatorSecret', {
      description: 'Admin engine operator key: the API accepts op_<this value> as the operator',
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
    })
    const alertBus = new EventBus(this, 'AlertBus', {
      description: 'Budget alerts (threshold crossings) published by the aggregation job',
    })
    const aggregationDlq = new Queue(this, 'AggregationDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    })

    this.api = new AdminApi(this, 'Api', { table, operatorSecret, alertBus })

    const monitoring = new Monitoring(this, 'Monitoring', alarmEmail ? { alarmEmail } : {})
    monitoring.apiServerErrors(this.api.httpApi)
    monitoring.functionHealth('Api', this.api.function)
    monitoring.failedAggregationRuns(aggregationDlq)
    monitoring.tableThrottling(table)

    if (aggregationEntry) {
      this.aggregation = new AggregationJob(this, 'Aggregation', {
        entry: aggregationEntry,
        table,
        alertBus,
        deadLetterQueue: aggregationDlq,
        schedule,
      })
      monitoring.functionHealth('Aggregation', this.aggregation.function)
    }

    if (webhookDelivererEntry) {
      this.webhookDeliverer = new WebhookDeliverer(this, 'WebhookDeliverer', {
        entry: webhookDelivererEntry,
        table,
      })
      monitoring.functionHealth('WebhookDeliverer', this.webhookDeliverer.function)
    }

    const outputs: Record<string, string> = {
      ApiUrl: this.api.stage.url,
      TableName: table.tableName,
      OperatorSecretArn: operatorSecret.secretArn,
      AlertBusName: alertBus.eventBusName,
      AggregationDeadLetterQueueUrl: aggregationDlq.queueUrl,
      AlarmTopicArn: monitoring.topic.topicArn,
    }
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value })
  }
}
