import { randomUUID } from 'node:crypto'
import type { LambdaAsset, SynthesizedStack } from './lambda-assets.js'

export interface ScheduledInvocation {
  /** The time the schedule fired (default now). */
  scheduledTime?: Date
  /** Which attempt this is (the scheduler counts from 1). */
  attempt?: number
}

/**
 * What EventBridge Scheduler sends the function: the input of the stack's schedule that targets
 * it, read from the synthesized template, with the context attributes filled in as the scheduler
 * does (`<aws.scheduler.scheduled-time>` and the like).
 */
export function scheduledEvent(
  stack: SynthesizedStack,
  asset: LambdaAsset,
  invocation: ScheduledInvocation = {}
): Record<string, unknown> {
  const schedules = Object.values(stack.template.Resources).filter((resource) => {
    if (resource.Type !== 'AWS::Scheduler::Schedule') return false
    const target = resource.Properties?.Target as { Arn?: { 'Fn::GetAtt'?: string[] } }
    return target?.Arn?.['Fn::GetAtt']?.[0] === asset.logicalId
  })
  if (schedules.length !== 1) {
    throw new Error(`expected one schedule targeting ${asset.logicalId}, got ${schedules.length}`)
  }
  const input = (schedules[0]!.Properties!.Target as { Input?: unknown }).Input
  if (typeof input !== 'string') {
    throw new Error(`the schedule of ${asset.logicalId} has no literal input`)
  }
  const attributes: Record<string, string> = {
    '<aws.scheduler.scheduled-time>': (invocation.scheduledTime ?? new Date())
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z'),
    '<aws.scheduler.execution-id>': randomUUID(),
    '<aws.scheduler.attempt-number>': String(invocation.attempt ?? 1),
    '<aws.scheduler.schedule-arn>': `arn:aws:scheduler:us-east-1:123456789012:schedule/default/${asset.logicalId}`,
  }
  const event = JSON.parse(input) as Record<string, unknown>
  for (const [key, value] of Object.entries(event)) {
    if (typeof value !== 'string') continue
    const filled = value.replace(/<aws\.scheduler\.[a-z-]+>/g, (attribute) => {
      const replacement = attributes[attribute]
      if (replacement === undefined) throw new Error(`unknown scheduler attribute ${attribute}`)
      return replacement
    })
    event[key] = filled
  }
  return event
}
