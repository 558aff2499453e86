import type { Server } from 'node:http'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serveApi } from '../functions/entry/node-server.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'

/**
 * The real local server (serveApi, as `npm start` runs it) on a real socket: what Node's HTTP
 * layer answers by itself, and how an oversized body leaves the client's pooled connections.
 */
let h: Harness
let org: Awaited<ReturnType<typeof createOrg>>
let server: Server
let base: string
let port: number

beforeAll(async () => {
  h = await startHarness()
  org = await createOrg(h)
  await new Promise<void>((resolve) => {
    server = serveApi(h.app.fetch, { port: 0, hostname: '127.0.0.1' }, (info) => {
      port = info.port
      base = `http://127.0.0.1:${info.port}`
      resolve()
    })
  })
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  await h.close()
})

/** Writes raw bytes and reads everything the server sends until it closes the connection. */
function rawExchange(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk) => {
      received += chunk
    })
    socket.on('end', () => resolve(received))
    socket.on('error', reject)
    socket.write(request)
  })
}

function parse(raw: string) {
  const [head, body] = raw.split('\r\n\r\n', 2) as [string, string]
  const [statusLine, ...headerLines] = head.split('\r\n')
  const headers = Object.fromEntries(
    headerLines.map((line) => {
      const at = line.indexOf(':')
      return [line.slice(0, at).toLowerCase(), line.slice(at + 1).trim()]
    })
  )
  return { status: Number(statusLine!.split(' ')[1]), headers, body: JSON.parse(body) }
}

function expectContractError(
  answer: { status: number; headers: Record<string, string>; body: unknown },
  status: number,
  type: string
) {
  expect(answer.status).toBe(status)
  expect(answer.headers['content-type']).toMatch(/^application\/json/)
  expect(answer.body).toEqual({
    error: {
      type,
      message: expect.any(String),
      param: null,
      request_id: answer.headers['x-request-id'],
    },
  })
  expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
}

describe("Node's own answers, in the contract's shape", () => {
  it('request headers over 16 KiB → 431 with the error body', async () => {
    const raw = await rawExchange(
      `GET /v1/organization HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(20 * 1024)}\r\n\r\n`
    )
    const answer = parse(raw)
    expectContractError(answer, 431, 'invalid_request')
    expect(answer.headers.connection).toBe('close')
    // fetch sees the same.
    const res = await fetch(`${base}/v1/organization`, {
      headers: { authorization: `Bearer ${org.adminKey}`, 'x-padding': 'a'.repeat(20 * 1024) },
    })
    expect(res.status).toBe(431)
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request')
  })

  it('a request that is not HTTP → 400 with the error body', async () => {
    const answer = parse(await rawExchange('NOT HTTP AT ALL\r\n\r\n'))
    expectContractError(answer, 400, 'invalid_request')
  })
})

describe('413 and keep-alive', () => {
  const oversized = JSON.stringify({ name: 'x'.repeat(1.5 * 1024 * 1024) })
  const headers = { authorization: `Bearer ${'pending'}`, 'content-type': 'application/json' }

  it('an oversized body → 413 in the contract shape, and the next requests on the same client succeed', async () => {
    headers.authorization = `Bearer ${org.adminKey}`
    for (let round = 0; round < 4; round++) {
      for (const streamed of [false, true]) {
        // Node's fetch (undici) pools keep-alive connections per origin.
        const init: RequestInit & { duplex?: 'half' } = streamed
          ? { method: 'POST', headers, body: new Blob([oversized]).stream(), duplex: 'half' }
          : { method: 'POST', headers, body: oversized }
        const tooLarge = await fetch(`${base}/v1/workspaces`, init)
        expect(tooLarge.status).toBe(413)
        const body = await tooLarge.json()
        expect(body).toEqual({
          error: {
            type: 'payload_too_large',
            message: expect.any(String),
            param: null,
            request_id: tooLarge.headers.get('x-request-id'),
          },
        })
        // The unread rest of the body makes the connection unusable: the server says so.
        expect(tooLarge.headers.get('connection')).toBe('close')

        const next = await fetch(`${base}/v1/workspaces`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ name: `After 413 #${round}${streamed ? ' streamed' : ''}` }),
        })
        expect(next.status, await next.clone().text()).toBe(201)
        const health = await fetch(`${base}/health`)
        expect(health.status).toBe(200)
      }
    }
    // Nothing of the oversized requests was written.
    const list = await fetch(`${base}/v1/workspaces?limit=100`, { headers })
    const names = ((await list.json()) as { data: { name: string }[] }).data.map((w) => w.name)
    expect(names.filter((name) => name.startsWith('After 413'))).toHaveLength(8)
    expect(names.some((name) => name.startsWith('xxx'))).toBe(false)
  })
  it('any answer given before the body was read (401, 415, 404) keeps the client usable too', async () => {
    const large = JSON.stringify({ name: 'y'.repeat(900 * 1024) })
    const early = [
      {
        path: '/v1/workspaces',
        authorization: 'Bearer adm_unknown',
        type: 'application/json',
        status: 401,
      },
      {
        path: '/v1/workspaces',
        authorization: `Bearer ${org.adminKey}`,
        type: 'text/plain',
        status: 415,
      },
      {
        path: '/v1/no-such-route',
        authorization: `Bearer ${org.adminKey}`,
        type: 'application/json',
        status: 404,
      },
    ]
    for (let round = 0; round < 3; round++) {
      for (const { path, authorization, type, status } of early) {
        for (const streamed of [false, true]) {
          const init: RequestInit & { duplex?: 'half' } = {
            method: 'POST',
            headers: { authorization, 'content-type': type },
            ...(streamed
              ? { body: new Blob([large]).stream(), duplex: 'half' as const }
              : { body: large }),
          }
          const res = await fetch(`${base}${path}`, init)
          expect(res.status).toBe(status)
          expect(((await res.json()) as { error: { request_id: string } }).error.request_id).toBe(
            res.headers.get('x-request-id')
          )
          expect((await fetch(`${base}/health`)).status).toBe(200)
        }
      }
    }
  })
})

describe('JSON bodies read from the socket, with and without a declared length', () => {
  const latin1 = Uint8Array.from([...Buffer.from('{"name":"caf'), 0xe9, ...Buffer.from('"}')])
  const post = (body: Uint8Array | string, streamed: boolean) => {
    const init: RequestInit & { duplex?: 'half' } = {
      method: 'POST',
      headers: { authorization: `Bearer ${org.adminKey}`, 'content-type': 'application/json' },
      ...(streamed ? { body: new Blob([body]).stream(), duplex: 'half' as const } : { body }),
    }
    return fetch(`${base}/v1/workspaces`, init)
  }
  const names = async () => {
    const list = await fetch(`${base}/v1/workspaces?limit=100`, {
      headers: { authorization: `Bearer ${org.adminKey}` },
    })
    return ((await list.json()) as { data: { name: string }[] }).data.map((w) => w.name)
  }

  it('a body that is not UTF-8 → 400 saying so, whether its length is declared or not', async () => {
    for (const streamed of [false, true]) {
      const res = await post(latin1, streamed)
      expect(res.status).toBe(400)
      const body = (await res.json()) as { error: { type: string; message: string } }
      expect(body.error.type).toBe('invalid_request')
      expect(body.error.message).toMatch(/UTF-8/)
    }
    expect((await names()).some((name) => name.startsWith('caf'))).toBe(false)
  })

  it('a UTF-8 body is read once and validated alike, whether its length is declared or not', async () => {
    for (const streamed of [false, true]) {
      const name = `Café ☕ ${streamed ? 'streamed' : 'declared'}`
      const res = await post(JSON.stringify({ name }), streamed)
      expect(res.status, await res.clone().text()).toBe(201)
      expect(((await res.json()) as { name: string }).name).toBe(name)
      // Malformed JSON and an empty body still reach the validators' 400.
      for (const bad of ['{"name":', '']) {
        const refused = await post(bad, streamed)
        expect(refused.status).toBe(400)
        expect(((await refused.json()) as { error: { type: string } }).error.type).toBe(
          'invalid_request'
        )
      }
    }
    expect(await names()).toEqual(expect.arrayContaining(['Café ☕ streamed', 'Café ☕ declared']))
  })
})

describe('the declared length, as another adapter may pass it on', () => {
  const latin1 = Uint8Array.from([...Buffer.from('{"name":"caf'), 0xe9, ...Buffer.from('"}')])
  const call = (body: Uint8Array | string, length: string) =>
    h.app.request('/v1/workspaces', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${org.adminKey}`,
        'content-type': 'application/json',
        'content-length': length,
      },
      body,
    })

  it('a declared length over 1 MiB → 413 before the body is read', async () => {
    const res = await call(JSON.stringify({ name: 'Declared big' }), String(2 * 1024 * 1024))
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('payload_too_large')
  })

  it('a length that is no number: the body is read and checked all the same', async () => {
    const res = await call(latin1, 'abc')
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/UTF-8/)
  })
})
