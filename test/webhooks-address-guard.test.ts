import type { AddressInfo } from 'node:net'
import { createServer, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSendAttempt,
  type Resolver,
  runWebhookDeliveries,
} from '../functions/webhooks/deliverer.js'
import { STRICT_URL_POLICY } from '../functions/webhooks/url.js'
import { as, type Caller } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness, TestClock } from './helpers/harness.js'

/**
 * The deliverer connects only to public addresses (docs/webhooks.md, "URLs"): a URL's host name
 * is checked when it is resolved for the connection, so a public-looking name that points at this
 * machine, a private network or the cloud metadata address is refused without a connection —
 * also when the name was re-pointed after the URL was accepted (DNS rebinding). DNS is faked here:
 * `hooks.example.test` resolves to whatever the test says.
 */
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let api: Caller
/** A TCP listener on 127.0.0.1 that counts the connections it gets (none must arrive). */
let trap: ReturnType<typeof createServer>
let trapPort = 0
const connections: Socket[] = []
const clock = new TestClock(new Date())

const resolvesTo =
  (...addresses: string[]): Resolver =>
  (_hostname, _options, callback) =>
    callback(
      null,
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
    )

beforeAll(async () => {
  h = await startHarness({ clock })
  org = await createOrg(h)
  api = as(h, org.adminKey)
  trap = createServer((socket) => {
    connections.push(socket)
    socket.destroy()
  })
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve))
  trapPort = (trap.address() as AddressInfo).port
})
afterAll(async () => {
  await new Promise<void>((resolve) => trap.close(() => resolve()))
  await h.close()
})

async function deliverOnce(resolver: Resolver) {
  const res = await api.post('/v1/webhooks', {
    url: `https://hooks.example.test:${trapPort}/events`,
    event_types: ['policy.changed'],
  })
  expect(res.status, res.text).toBe(201)
  await api.create(
    `/v1/policies/guard-${res.body.id.slice(-6).toLowerCase()}`,
    {
      cedar: 'forbid (principal, action, resource) when { false };',
    },
    'PUT'
  )
  const summary = await runWebhookDeliveries({
    db: h.db,
    clock,
    random: () => 0.5,
    send: createSendAttempt(STRICT_URL_POLICY, resolver),
  })
  const deliveries = (await api.get(`/v1/webhooks/${res.body.id}/deliveries`)).body.data
  await api.delete(`/v1/webhooks/${res.body.id}`)
  return { summary, attempt: deliveries[0].attempts[0] }
}

describe('webhook delivery refuses internal addresses a host name resolves to', () => {
  it.each([
    ['this machine', ['127.0.0.1']],
    ['the cloud metadata address', ['169.254.169.254']],
    ['a private network', ['10.1.2.3']],
    ['IPv6 loopback', ['::1']],
    ['a public address next to a private one', ['93.184.215.14', '192.168.0.7']],
  ])('%s: a failed attempt that says why, and no connection', async (_name, addresses) => {
    const before = connections.length
    const { summary, attempt } = await deliverOnce(resolvesTo(...addresses))
    expect(summary).toMatchObject({ attempts: 1, retrying: 1, succeeded: 0 })
    expect(attempt.status_code).toBeNull()
    expect(attempt.error).toContain('resolves to')
    expect(attempt.error).toContain('a loopback, private or link-local address')
    expect(connections.length).toBe(before)
  })

  it('lets a name that resolves to a public address through (the guard is not a blanket refusal)', async () => {
    // 192.0.2.10 (TEST-NET-1) answers nothing here: the attempt fails by timing out or being
    // unreachable, not by the guard.
    const send = createSendAttempt(STRICT_URL_POLICY, resolvesTo('192.0.2.10'))
    const error = await send({
      url: 'https://hooks.example.test/x',
      headers: {},
      body: '{}',
      timeoutMs: 300,
    }).then(
      () => undefined,
      (cause: Error) => cause
    )
    expect(error).toBeInstanceOf(Error)
    expect(error!.message).not.toMatch(/resolves to|refused/)
  })

  it('refuses an internal IP literal at send time too (an endpoint stored under a laxer policy)', async () => {
    const send = createSendAttempt(STRICT_URL_POLICY, resolvesTo('93.184.215.14'))
    const before = connections.length
    await expect(
      send({ url: `https://127.0.0.1:${trapPort}/x`, headers: {}, body: '{}', timeoutMs: 500 })
    ).rejects.toThrow(/loopback, private or link-local/)
    await expect(
      send({ url: `http://127.0.0.1:${trapPort}/x`, headers: {}, body: '{}', timeoutMs: 500 })
    ).rejects.toThrow(/http: endpoints are not allowed/)
    expect(connections.length).toBe(before)
  })
})
