/**
 * The decision read path (loadAccessContext: member, workspace, seats, group closure, grants)
 * against one consistent GetItem measured in the same run, for a member in a small
 * organization, the same member after the organization grew, and members in deeper nesting.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { loadAccessContext, putGrant } from '../../functions/domain/access.js'
import type { ServiceContext } from '../../functions/domain/context.js'
import { addGroupMember, addSubgroup, createGroup } from '../../functions/domain/groups.js'
import { createMember } from '../../functions/domain/members.js'
import { createOrganization } from '../../functions/domain/organizations.js'
import { assignSeat, setPurchasedSeats } from '../../functions/domain/seats.js'
import { createWorkspace } from '../../functions/domain/workspaces.js'
import { systemClock } from '../../functions/lib/clock.js'
import { createDocumentClient, ensureTable } from '../../functions/store/client.js'
import { Db } from '../../functions/store/db.js'
import { startEmbeddedStore } from '../../functions/store/embedded.js'
import { keys } from '../../functions/store/keys.js'
import type { BenchSuite, BenchTable } from '../run.js'
import { fmt, percentile, sampleMicros } from '../stats.js'

const ITERATIONS = 300

async function run(): Promise<BenchTable[]> {
  const store = await startEmbeddedStore()
  const doc = createDocumentClient({ endpoint: store.endpoint })
  await ensureTable(doc, 'bench-access')
  let requests = 0
  const counted = new Proxy(doc, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver)
      return (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
        requests++
        return target.send(command)
      }
    },
  })
  const db = new Db(counted, 'bench-access')
  const ctx: ServiceContext = {
    db,
    clock: systemClock,
    actor: { type: 'system', id: 'bench' },
    requestId: null,
  }
  const { organization } = await createOrganization(ctx, { name: 'Bench' })
  const org = organization.id
  const ws = (await createWorkspace(ctx, org, { name: 'Product' })).id
  await setPurchasedSeats(ctx, org, 'chat', 10_000)
  let n = 0
  const newMember = () => createMember(ctx, org, { email: `m${++n}@bench.example`, name: `M${n}` })

  /** A member at the bottom of a chain of `depth` nested groups, each granting a role in ws. */
  async function memberInChain(depth: number) {
    const member = await newMember()
    let previous: string | undefined
    for (let level = 0; level < depth; level++) {
      const group = await createGroup(ctx, org, { name: `chain ${n}-${level}` })
      await putGrant(ctx, org, ws, { type: 'group', id: group.id }, ['user'])
      if (previous) await addSubgroup(ctx, org, group.id, previous)
      else await addGroupMember(ctx, org, group.id, member.id)
      previous = group.id
    }
    await putGrant(ctx, org, ws, { type: 'member', id: member.id }, ['dev'])
    await assignSeat(ctx, org, 'chat', member.id)
    return member.id
  }

  async function measure(memberId: string) {
    requests = 0
    await loadAccessContext(ctx, org, memberId, ws)
    const perCall = requests
    const samples = await sampleMicros(() => loadAccessContext(ctx, org, memberId, ws), ITERATIONS)
    return { perCall, samples }
  }
  const baselineKey = keys.member(org, 'mem_none')
  const baseline = await sampleMicros(() => db.get(baselineKey), ITERATIONS)
  const base = percentile(baseline, 50)

  const rows: (string | number)[][] = [
    ['baseline: one consistent GetItem', 1, fmt(base), fmt(percentile(baseline, 95)), '1.0'],
  ]
  const add = (label: string, result: Awaited<ReturnType<typeof measure>>) =>
    rows.push([
      label,
      result.perCall,
      fmt(percentile(result.samples, 50)),
      fmt(percentile(result.samples, 95)),
      fmt(percentile(result.samples, 50) / base),
    ])

  const subject = await memberInChain(2)
  add('member in 2 nested groups, organization of 1 member', await measure(subject))
  // Grow the organization: 200 members, each granted in the workspace and one of 10 others.
  const others = []
  for (let i = 0; i < 10; i++) others.push((await createWorkspace(ctx, org, { name: `W${i}` })).id)
  for (let i = 0; i < 200; i++) {
    await createMember(ctx, org, {
      email: `crowd${i}@bench.example`,
      name: `Crowd ${i}`,
      workspaces: [
        { workspace_id: ws, roles: ['user'] },
        { workspace_id: others[i % 10]!, roles: ['dev'] },
      ],
    })
  }
  add('same member, organization of 201 members, 12 workspaces', await measure(subject))
  add('member in 5 nested groups', await measure(await memberInChain(5)))
  add('member in 10 nested groups (the limit)', await measure(await memberInChain(10)))

  doc.destroy()
  await store.close()
  return [
    {
      title: 'Decision read path (loadAccessContext) over the embedded store',
      columns: ['case', 'DynamoDB requests', 'median µs', 'p95 µs', 'median × baseline'],
      rows,
      notes: [
        `${ITERATIONS} sequential calls per case after warm-up; dynalite in-process over HTTP.`,
        'Requests = member + workspace + seats (in parallel) + one BatchGet per nesting level + one BatchGet of grants.',
      ],
    },
  ]
}

const suite: BenchSuite = { name: 'Access read path', run }
export default suite
