/**
 * CDK assertions on the synthesized template (bundling skipped): every resource the deployment
 * needs, its settings, and least-privilege permissions.
 */
import { existsSync, readFileSync } from 'node:fs'
import { App } from 'aws-cdk-lib'
import { Match, Template } from 'aws-cdk-lib/assertions'
import { beforeAll, describe, expect, it } from 'vitest'
import { TABLE_DEFINITION } from '../functions/store/table-definition.js'
import {
  AGGREGATION_LEASE_MS,
  HEARTBEAT_MS,
  LEASE_MARGIN_MS,
  RUN_BUDGET_MS,
} from '../functions/usage/aggregation.js'
import {
  AGGREGATE_ENTRY,
  checkSchedule,
  readStackConfig,
  type StackConfig,
  stackName,
} from '../infra/config.js'
import { TABLE_DATA_ACTIONS } from '../infra/permissions.js'
import { AdminEngineStack } from '../infra/stack.js'

const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] }

function synth(config: Partial<StackConfig> = {}): Template {
  const app = new App({ context: SKIP_BUNDLING, analyticsReporting: false })
  const stack = new AdminEngineStack(app, 'Test', {
    stage: 'test',
    schedule: 'rate(5 minutes)',
    ...config,
  })
  return Template.fromStack(stack)
}

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary CloudFormation JSON
type Json = any
type Resources = Record<string, { Type: string; Properties: Record<string, Json> }>
type Statement = { Action: string | string[]; Resource: unknown; Effect: string }

function resourcesOf(template: Template, type: string): Resources {
  return template.findResources(type) as Resources
}

function only<T>(record: Record<string, T>): [string, T] {
  const entries = Object.entries(record)
  expect(entries).toHaveLength(1)
  return entries[0]!
}

function logicalId(template: Template, type: string): string {
  return only(resourcesOf(template, type))[0]
}

/** The logical id of the function whose construct path contains `part`. */
function functionId(template: Template, part: string): string {
  const ids = Object.keys(resourcesOf(template, 'AWS::Lambda::Function')).filter((id) =>
    id.startsWith(part)
  )
  expect(ids).toHaveLength(1)
  return ids[0]!
}

/** Every statement of the policies attached to the function's role. */
function statementsOf(template: Template, fnId: string): Statement[] {
  const fn = resourcesOf(template, 'AWS::Lambda::Function')[fnId]!
  const roleId = fn.Properties.Role['Fn::GetAtt'][0]
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((policy) =>
      policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId)
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
}

const actions = (statement: Statement) => [statement.Action].flat()

describe('the default stack', () => {
  let template: Template
  let tableId: string
  let secretId: string
  let apiFnId: string
  beforeAll(() => {
    template = synth()
    tableId = logicalId(template, 'AWS::DynamoDB::GlobalTable')
    secretId = logicalId(template, 'AWS::SecretsManager::Secret')
    apiFnId = functionId(template, 'ApiFunction')
  })

  it('has the single table from the shared definition: on-demand, PITR, TTL, protected, retained', () => {
    const { partitionKey, sortKey, globalSecondaryIndexes, timeToLiveAttribute } = TABLE_DEFINITION
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: partitionKey, KeyType: 'HASH' },
          { AttributeName: sortKey, KeyType: 'RANGE' },
        ],
        TimeToLiveSpecification: { AttributeName: timeToLiveAttribute, Enabled: true },
        GlobalSecondaryIndexes: globalSecondaryIndexes.map((index) => ({
          IndexName: index.indexName,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        })),
        Replicas: [
          Match.objectLike({
            DeletionProtectionEnabled: true,
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          }),
        ],
      },
    })
  })

  it('generates the operator secret in Secrets Manager (no value in the template)', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 48, ExcludePunctuation: true, IncludeSpace: false },
      SecretString: Match.absent(),
    })
    expect(JSON.stringify(template.toJSON())).not.toContain('{{resolve:secretsmanager')
  })

  it('runs the API on Node.js 24, arm64, with the secret ARN, table and bus names as inputs', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Environment: {
        Variables: {
          TABLE_NAME: { Ref: tableId },
          OPERATOR_SECRET_ARN: { Ref: secretId },
          ALERT_BUS_NAME: { Ref: logicalId(template, 'AWS::Events::EventBus') },
          POLICY_DIR: '/var/task/policies',
          POWERTOOLS_SERVICE_NAME: 'admin-engine',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    })
  })

  it('puts an HTTP API (payload 2.0) in front of the API function, throttled and logged', () => {
    const apiId = logicalId(template, 'AWS::ApiGatewayV2::Api')
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' })
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      ApiId: { Ref: apiId },
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [apiFnId, 'Arn'] },
    })
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      ApiId: { Ref: apiId },
      RouteKey: '$default',
    })
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: { Ref: apiId },
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
      AccessLogSettings: { DestinationArn: Match.anyValue() },
    })
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [apiFnId, 'Arn'] },
      Principal: 'apigateway.amazonaws.com',
    })
  })

  it('has the budget-alert bus and the dead-letter queue for failed scheduled runs', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1)
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 14 * 24 * 3600,
      SqsManagedSseEnabled: true,
    })
  })

  it('keeps every log group for a limited time, the functions writing to their own', () => {
    const groups = resourcesOf(template, 'AWS::Logs::LogGroup')
    expect(Object.keys(groups).length).toBeGreaterThanOrEqual(2)
    for (const group of Object.values(groups)) expect(group.Properties.RetentionInDays).toBe(30)
    for (const fn of Object.values(resourcesOf(template, 'AWS::Lambda::Function'))) {
      expect(Object.keys(groups)).toContain(fn.Properties.LoggingConfig.LogGroup.Ref)
    }
  })

  it('alarms on API 5xx rate, Lambda errors and throttles, failed runs and table throttling', () => {
    const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).map(
      (alarm) => alarm.Properties
    )
    const topicId = logicalId(template, 'AWS::SNS::Topic')
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: topicId }])
    const metricNames = (alarm: Record<string, Json>) =>
      alarm.MetricName
        ? [alarm.MetricName]
        : alarm.Metrics.filter((m: Json) => m.MetricStat).map(
            (m: Json) => m.MetricStat.Metric.MetricName
          )

    const fiveXx = alarms.find((alarm) => alarm.Metrics?.some((m: Json) => m.Expression))
    expect(fiveXx?.Metrics.find((m: Json) => m.Expression).Expression).toBe(
      'IF(requests >= 10, 100 * errors / requests, 0)'
    )
    expect(metricNames(fiveXx!).sort()).toEqual(['5xx', 'Count'])
    expect(fiveXx?.Threshold).toBe(5)

    for (const metric of ['Errors', 'Throttles']) {
      expect(
        alarms.some(
          (alarm) =>
            alarm.MetricName === metric &&
            alarm.Dimensions?.[0]?.Value?.Ref === apiFnId &&
            alarm.Threshold === 1
        )
      ).toBe(true)
    }
    const dlqId = logicalId(template, 'AWS::SQS::Queue')
    expect(
      alarms.some(
        (alarm) =>
          alarm.MetricName === 'ApproximateNumberOfMessagesVisible' &&
          alarm.Dimensions?.[0]?.Value?.['Fn::GetAtt']?.[0] === dlqId
      )
    ).toBe(true)
    const throttling = alarms.find((alarm) => metricNames(alarm).includes('ThrottledRequests'))
    expect(throttling?.Metrics.filter((m: Json) => m.MetricStat)).toHaveLength(7)
  })

  it('grants the API function the table actions it issues, its secret and publishing alerts', () => {
    const statements = statementsOf(template, apiFnId)
    const table = statements.find((s) => actions(s).some((a) => a.startsWith('dynamodb:')))
    expect(actions(table!).sort()).toEqual([...TABLE_DATA_ACTIONS].sort())
    expect(table!.Resource).toEqual([
      { 'Fn::GetAtt': [tableId, 'Arn'] },
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, '/index/*']] },
    ])
    const secret = statements.find((s) => actions(s).some((a) => a.startsWith('secretsmanager:')))
    expect(secret).toMatchObject({
      Action: 'secretsmanager:GetSecretValue',
      Resource: { Ref: secretId },
    })
    // POST /v1/jobs/aggregate runs the job in this function: it publishes to the one bus only.
    const events = statements.find((s) => actions(s).some((a) => a.startsWith('events:')))
    expect(events).toMatchObject({
      Action: 'events:PutEvents',
      Resource: { 'Fn::GetAtt': [logicalId(template, 'AWS::Events::EventBus'), 'Arn'] },
    })
    expect(statements).toHaveLength(3)
  })

  it('enables the aggregation job exactly when its entry exists', () => {
    const app = new App({ context: SKIP_BUNDLING })
    const present = existsSync(AGGREGATE_ENTRY)
    expect(readStackConfig(app.node).aggregationEntry).toBe(present ? AGGREGATE_ENTRY : undefined)
    const stack = new AdminEngineStack(app, 'Default', readStackConfig(app.node))
    Template.fromStack(stack).resourceCountIs('AWS::Scheduler::Schedule', present ? 1 : 0)
  })
})

describe('the scheduled aggregation job', () => {
  let template: Template
  let fnId: string
  let dlqId: string
  beforeAll(() => {
    template = synth({ schedule: 'rate(10 minutes)', aggregationEntry: AGGREGATE_ENTRY })
    fnId = functionId(template, 'AggregationFunction')
    dlqId = logicalId(template, 'AWS::SQS::Queue')
  })

  it('runs the function on the configured schedule, retrying, then to the dead-letter queue', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(10 minutes)',
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
        Input: Match.serializedJson(
          Match.objectLike({ scheduled_time: '<aws.scheduler.scheduled-time>' })
        ),
      },
    })
  })

  it('sends a run that threw or timed out to the same queue after the same retries', () => {
    // The scheduler invokes Lambda asynchronously: its retry policy and queue cover only
    // invocations it could not deliver; a failed run is retried by Lambda's own configuration.
    const fn = resourcesOf(template, 'AWS::Lambda::Function')[fnId]!
    expect(fn.Properties.DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] } })
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fnId },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 300,
    })
  })

  it("times a run out after the job's run budget; a run killed then is replaced soon", () => {
    const fn = resourcesOf(template, 'AWS::Lambda::Function')[fnId]!
    const timeoutMs = fn.Properties.Timeout * 1000
    expect(timeoutMs).toBe(5 * 60_000)
    // No new round after the run budget: the last round and the budget evaluation need time.
    expect(timeoutMs).toBeGreaterThan(RUN_BUDGET_MS)
    // The lease does not outlast the timeout: a live run renews it (heartbeats well inside
    // the lease, before the write margin), so a run killed at the timeout blocks the job for
    // at most one short lease; its late writes are fenced (docs/access-patterns.md, "Usage").
    expect(AGGREGATION_LEASE_MS).toBeLessThanOrEqual(60_000)
    expect(2 * HEARTBEAT_MS).toBeLessThanOrEqual(AGGREGATION_LEASE_MS - LEASE_MARGIN_MS)
    expect(timeoutMs).toBeGreaterThan(AGGREGATION_LEASE_MS)
    // A run that timed out is older than the maximum event age when Lambda would retry it: it
    // goes to the dead-letter queue (and its alarm) instead of running again.
    const [, invokeConfig] = only(resourcesOf(template, 'AWS::Lambda::EventInvokeConfig'))
    expect(timeoutMs).toBeGreaterThanOrEqual(
      invokeConfig.Properties.MaximumEventAgeInSeconds * 1000
    )
  })

  it('gives the job the table, the bus name, the queue, and no secret nor Cedar policies', () => {
    const busId = logicalId(template, 'AWS::Events::EventBus')
    const fn = resourcesOf(template, 'AWS::Lambda::Function')[fnId]!
    expect(fn.Properties.Runtime).toBe('nodejs24.x')
    expect(fn.Properties.Architectures).toEqual(['arm64'])
    expect(fn.Properties.Environment.Variables).toMatchObject({
      TABLE_NAME: { Ref: logicalId(template, 'AWS::DynamoDB::GlobalTable') },
      ALERT_BUS_NAME: { Ref: busId },
    })
    expect(fn.Properties.Environment.Variables.OPERATOR_SECRET_ARN).toBeUndefined()
    expect(fn.Properties.Environment.Variables.POLICY_DIR).toBeUndefined()

    const statements = statementsOf(template, fnId)
    expect(statements.flatMap(actions).sort()).toEqual(
      [...TABLE_DATA_ACTIONS, 'events:PutEvents', 'sqs:SendMessage'].sort()
    )
    expect(statements.find((s) => actions(s).includes('events:PutEvents'))?.Resource).toEqual({
      'Fn::GetAtt': [busId, 'Arn'],
    })
    expect(statements.find((s) => actions(s).includes('sqs:SendMessage'))?.Resource).toEqual({
      'Fn::GetAtt': [dlqId, 'Arn'],
    })
  })

  it('alarms on the job function failing or being throttled', () => {
    for (const metric of ['Errors', 'Throttles']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metric,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
      })
    }
  })

  it('lets the scheduler invoke the function and send to the dead-letter queue', () => {
    const role = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).find((policy) =>
      policy.Properties.PolicyDocument.Statement.some((s: Statement) =>
        actions(s).includes('lambda:InvokeFunction')
      )
    )
    const granted = role!.Properties.PolicyDocument.Statement.flatMap(actions)
    expect(granted).toEqual(expect.arrayContaining(['lambda:InvokeFunction', 'sqs:SendMessage']))
  })
})

describe('least privilege across the stack', () => {
  const templates = () => [synth(), synth({ aggregationEntry: AGGREGATE_ENTRY })]

  it('never grants DynamoDB actions on `*` resources, nor wildcard actions', () => {
    for (const template of templates()) {
      for (const policy of Object.values(resourcesOf(template, 'AWS::IAM::Policy'))) {
        for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
          const list = actions(statement)
          expect(list.filter((action) => action.endsWith('*'))).toEqual([])
          if (list.some((action) => action.startsWith('dynamodb:'))) {
            const resources = [statement.Resource].flat()
            expect(resources).not.toContain('*')
            for (const resource of resources) expect(JSON.stringify(resource)).toContain('Table')
          }
        }
      }
    }
  })

  it('lists exactly the DynamoDB operations the store adapter sends', () => {
    const source = readFileSync(new URL('../functions/store/db.ts', import.meta.url), 'utf8')
    const commands = [...source.matchAll(/new (\w+)Command\(/g)].map((match) => match[1]!)
    const names: Record<string, string> = {
      Get: 'GetItem',
      Put: 'PutItem',
      Update: 'UpdateItem',
      Delete: 'DeleteItem',
      Query: 'Query',
      BatchGet: 'BatchGetItem',
      // The low-level client's command: batchWrite marshals its items itself.
      BatchWriteItem: 'BatchWriteItem',
    }
    for (const command of commands)
      expect(names, `unmapped ${command}Command`).toHaveProperty(command)
    expect([...new Set(commands.map((command) => `dynamodb:${names[command]}`))].sort()).toEqual(
      [...TABLE_DATA_ACTIONS].sort()
    )
  })
})

describe('context parameters', () => {
  const config = (context: Record<string, string>) =>
    readStackConfig(new App({ context }).node, () => false)

  it('defaults to stage dev and every 5 minutes', () => {
    expect(config({})).toEqual({ stage: 'dev', schedule: 'rate(5 minutes)' })
  })

  it('takes the stage, schedule and alarm e-mail from context', () => {
    expect(
      config({ stage: 'prod', schedule: 'cron(0/15 * * * ? *)', alarmEmail: 'ops@example.com' })
    ).toEqual({ stage: 'prod', schedule: 'cron(0/15 * * * ? *)', alarmEmail: 'ops@example.com' })
  })

  it('rejects a bad stage, schedule or e-mail with a clear message', () => {
    expect(() => config({ stage: 'Prod_1' })).toThrow(/stage must be/)
    expect(() => config({ schedule: 'every 5 minutes' })).toThrow(/schedule must be/)
    expect(() => config({ alarmEmail: 'nobody' })).toThrow(/alarmEmail/)
    expect(() => checkSchedule('rate(1 minutes)')).toThrow(/rate\(1 minute\)/)
    expect(() => checkSchedule('rate(5 minute)')).toThrow()
    expect(checkSchedule('rate(1 hour)')).toBe('rate(1 hour)')
  })

  it('names the stack after the stage', () => {
    const app = new App({ context: { ...SKIP_BUNDLING, stage: 'qa' } })
    const cfg = readStackConfig(app.node)
    const stack = new AdminEngineStack(app, stackName(cfg.stage), cfg)
    expect(stack.stackName).toBe('AdminEngine-qa')
    Template.fromStack(stack).hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [
        Match.objectLike({
          Tags: Match.arrayWith([
            { Key: 'app', Value: 'admin-engine' },
            { Key: 'stage', Value: 'qa' },
          ]),
        }),
      ],
    })
  })
})
