/**
 * CDK assertions for the webhook deliverer (bundling skipped): a function on an EventBridge rule
 * every minute with the table's data actions and nothing else — no other AWS service, no VPC,
 * no function URL or API route of ours (receivers are reached over outbound HTTPS).
 */
import { existsSync } from 'node:fs'
import { App } from 'aws-cdk-lib'
import { Template } from 'aws-cdk-lib/assertions'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  ATTEMPT_LEASE_MS,
  ATTEMPT_TIMEOUT_MS,
  DELIVERY_RUN_BUDGET_MS,
} from '../functions/webhooks/deliverer.js'
import { readStackConfig, WEBHOOK_DELIVERER_ENTRY } from '../infra/config.js'
import { TABLE_DATA_ACTIONS } from '../infra/permissions.js'
import { AdminEngineStack } from '../infra/stack.js'
import { DELIVERER_TIMEOUT } from '../infra/webhooks.js'

const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] }

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary CloudFormation JSON
type Json = any
type Resources = Record<string, { Type: string; Properties: Record<string, Json> }>

function synth(withDeliverer: boolean): Template {
  const app = new App({ context: SKIP_BUNDLING, analyticsReporting: false })
  const stack = new AdminEngineStack(app, 'Test', {
    stage: 'test',
    schedule: 'rate(5 minutes)',
    ...(withDeliverer ? { webhookDelivererEntry: WEBHOOK_DELIVERER_ENTRY } : {}),
  })
  return Template.fromStack(stack)
}

const resourcesOf = (template: Template, type: string) => template.findResources(type) as Resources

describe('the webhook deliverer', () => {
  let template: Template
  let fnId: string
  let fn: Resources[string]
  beforeAll(() => {
    template = synth(true)
    const ids = Object.keys(resourcesOf(template, 'AWS::Lambda::Function')).filter((id) =>
      id.startsWith('WebhookDelivererFunction')
    )
    expect(ids).toHaveLength(1)
    fnId = ids[0]!
    fn = resourcesOf(template, 'AWS::Lambda::Function')[fnId]!
  })

  it('is deployed by default, when its entry exists', () => {
    const app = new App({ context: SKIP_BUNDLING })
    expect(existsSync(WEBHOOK_DELIVERER_ENTRY)).toBe(true)
    expect(readStackConfig(app.node).webhookDelivererEntry).toBe(WEBHOOK_DELIVERER_ENTRY)
    expect(
      Object.keys(resourcesOf(synth(false), 'AWS::Lambda::Function')).filter((id) =>
        id.startsWith('WebhookDeliverer')
      )
    ).toEqual([])
  })

  it('runs every minute from an EventBridge rule, not retried (the next run finds what is due)', () => {
    const rules = Object.values(resourcesOf(template, 'AWS::Events::Rule'))
    expect(rules).toHaveLength(1)
    const rule = rules[0]!.Properties
    expect(rule.ScheduleExpression).toBe('rate(1 minute)')
    expect(rule.State).toBe('ENABLED')
    expect(rule.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0 },
      }),
    ])
    const ruleId = Object.keys(resourcesOf(template, 'AWS::Events::Rule'))[0]!
    const invokers = Object.values(resourcesOf(template, 'AWS::Lambda::Permission')).filter(
      (permission) => JSON.stringify(permission.Properties.FunctionName).includes(fnId)
    )
    expect(invokers.map((p) => p.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
      },
    ])
  })

  it('may read and write the table and nothing else', () => {
    const roleId = fn.Properties.Role['Fn::GetAtt'][0]
    const statements = Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
      .filter((policy) => policy.Properties.Roles.some((role: Json) => role.Ref === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
    const tableId = Object.keys(resourcesOf(template, 'AWS::DynamoDB::GlobalTable'))[0]!
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: [...TABLE_DATA_ACTIONS],
        Resource: [
          { 'Fn::GetAtt': [tableId, 'Arn'] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, '/index/*']] },
        ],
      },
    ])
    // Logs only, through the basic execution role; no VPC access policy, no VPC.
    const role = resourcesOf(template, 'AWS::IAM::Role')[roleId]!
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain(
      'service-role/AWSLambdaBasicExecutionRole'
    )
    expect(role.Properties.ManagedPolicyArns).toHaveLength(1)
    expect(fn.Properties.VpcConfig).toBeUndefined()
    // Nothing of ours is exposed to be called: no function URL, no API route to it.
    expect(Object.keys(resourcesOf(template, 'AWS::Lambda::Url'))).toEqual([])
    expect(JSON.stringify(resourcesOf(template, 'AWS::ApiGatewayV2::Integration'))).not.toContain(
      fnId
    )
  })

  it('gets the table name only: no operator secret, no bus, no Cedar policies', () => {
    const variables = fn.Properties.Environment.Variables
    expect(Object.keys(variables).sort()).toEqual([
      'NODE_OPTIONS',
      'POWERTOOLS_LOG_LEVEL',
      'POWERTOOLS_SERVICE_NAME',
      'TABLE_NAME',
    ])
    expect(fn.Properties.Runtime).toBe('nodejs24.x')
    expect(fn.Properties.Architectures).toEqual(['arm64'])
  })

  it('has time for its last batch: run budget + one attempt within the timeout, leases outlive attempts', () => {
    const timeoutMs = DELIVERER_TIMEOUT.toMilliseconds()
    expect(fn.Properties.Timeout * 1000).toBe(timeoutMs)
    expect(DELIVERY_RUN_BUDGET_MS + ATTEMPT_TIMEOUT_MS + 10_000).toBeLessThanOrEqual(timeoutMs)
    expect(ATTEMPT_LEASE_MS).toBeGreaterThan(ATTEMPT_TIMEOUT_MS + 10_000)
  })

  it('alarms on its errors and throttles', () => {
    const alarmed = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'))
      .filter((alarm) => alarm.Properties.Dimensions?.[0]?.Value?.Ref === fnId)
      .map((alarm) => alarm.Properties.MetricName)
    expect(alarmed.sort()).toEqual(['Errors', 'Throttles'])
  })
})
