import { fileURLToPath } from 'node:url'
import { Duration, RemovalPolicy } from 'aws-cdk-lib'
import { HttpApi, type HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2'
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations'
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb'
import type { IEventBus } from 'aws-cdk-lib/aws-events'
import { PolicyStatement } from 'aws-cdk-lib/aws-iam'
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs'
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs'
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager'
import { Construct } from 'constructs'
import { createNodeFunction } from './bundling.js'
import { grantTableData } from './permissions.js'

export const API_ENTRY = fileURLToPath(new URL('../functions/entry/api-lambda.ts', import.meta.url))

export interface AdminApiProps {
  table: TableV2
  operatorSecret: ISecret
  /** `POST /v1/jobs/aggregate` runs the aggregation here too, and publishes its budget alerts. */
  alertBus: IEventBus
  /** Steady-state and burst request limits of the stage. */
  throttle?: { rateLimit: number; burstLimit: number }
}

/** The HTTP API (API Gateway v2, payload 2.0) with every route going to the one API function. */
export class AdminApi extends Construct {
  readonly function: NodejsFunction
  readonly httpApi: HttpApi
  readonly stage: HttpStage

  constructor(scope: Construct, id: string, props: AdminApiProps) {
    super(scope, id)
    this.function = createNodeFunction(this, 'Function', {
      entry: API_ENTRY,
      description: 'Admin engine HTTP API (Hono)',
      // /docs serves Swagger UI from files shipped beside the bundle, not from a CDN.
      docs: true,
      console: true,
      environment: {
        TABLE_NAME: props.table.tableName,
        // The ARN only: the function reads the value from Secrets Manager at cold start.
        OPERATOR_SECRET_ARN: props.operatorSecret.secretArn,
        ALERT_BUS_NAME: props.alertBus.eventBusName,
      },
      timeout: Duration.seconds(29),
    })
    grantTableData(props.table, this.function)
    props.alertBus.grantPutEventsTo(this.function)
    this.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [props.operatorSecret.secretArn],
      })
    )

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'Admin engine API',
      createDefaultStage: false,
      defaultIntegration: new HttpLambdaIntegration('Lambda', this.function),
    })
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    })
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 500, burstLimit: 1000 },
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs) },
    })
  }
}
