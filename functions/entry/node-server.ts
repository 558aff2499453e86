import { randomUUID } from 'node:crypto'
import { maxHeaderSize, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { createAdaptorServer, type HttpBindings } from '@hono/node-server'
import { errorBody } from '../app/http/errors.js'
import { AppError } from '../lib/errors.js'

type Fetch = Parameters<typeof createAdaptorServer>[0]['fetch']

/**
 * The local HTTP server: @hono/node-server over node:http, plus the answers Node's parser gives
 * on its own before any route runs (headers too large, malformed HTTP, a request too slow),
 * written in the contract's error shape instead of Node's bare status line.
 */
export function createApiServer(fetch: Fetch): Server {
  const server = createAdaptorServer({ fetch: closingUnreadBodies(fetch) }) as Server
  server.on('clientError', answerClientError)
  return server
}

/** createApiServer, listening on `options.port` (0 = any free port). */
export function serveApi(
  fetch: Fetch,
  options: { port: number; hostname?: string },
  onListening?: (info: AddressInfo) => void
): Server {
  const server = createApiServer(fetch)
  server.listen(options.port, options.hostname, () =>
    onListening?.(server.address() as AddressInfo)
  )
  return server
}

/**
 * An answer given before the request body was read (413 over the limit, 401, 415, 404, …) leaves
 * the rest of that body on the connection; @hono/node-server drains it only briefly and then
 * drops the socket, under a client that may have pooled it (undici then fails its next request
 * with UND_ERR_SOCKET). Such answers say `Connection: close`, so the client opens a new one.
 */
function closingUnreadBodies(fetch: Fetch): Fetch {
  return async (request, env) => {
    const response = await fetch(request, env)
    const incoming = (env as HttpBindings).incoming
    if (response instanceof Response && incoming && !incoming.complete) {
      response.headers.set('Connection', 'close')
    }
    return response
  }
}

interface ClientErrorAnswer {
  status: number
  reason: string
  message: string
}

function answerOf(code: string | undefined): ClientErrorAnswer {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        reason: 'Request Header Fields Too Large',
        message: `The request headers are larger than ${maxHeaderSize / 1024} KiB.`,
      }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        reason: 'Request Timeout',
        message: 'The request was not received in time.',
      }
    default:
      return { status: 400, reason: 'Bad Request', message: 'The request is not valid HTTP/1.1.' }
  }
}

/** node:http's 'clientError': there is no response object, so the answer goes to the socket. */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection or one that already has a response started cannot take an answer.
  const started = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (error.code === 'ECONNRESET' || !socket.writable || started?.headersSent) {
    socket.destroy()
    return
  }
  const { status, reason, message } = answerOf(error.code)
  const requestId = randomUUID()
  // The contract has no type of its own for these: each is a request the server cannot take.
  const body = JSON.stringify(
    errorBody(new AppError('invalid_request', message, null, status), requestId)
  )
  socket.end(
    [
      `HTTP/1.1 ${status} ${reason}`,
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      `x-request-id: ${requestId}`,
      'Connection: close',
      '',
      body,
    ].join('\r\n')
  )
}
