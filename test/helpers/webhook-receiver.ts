import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

/** One POST a receiver got, as the wire carried it. */
export interface Received {
  path: string
  headers: IncomingHttpHeaders
  body: string
  /** The parsed body, when Webhook.verify accepted the signature with the path's secret. */
  verified: Record<string, unknown> | undefined
  /** Why verification failed (undefined when it passed). */
  verifyError: string | undefined
  /** The status this receiver answered with. */
  status: number
}

/**
 * A local HTTP receiver of webhooks (one per test file): each path is one endpoint, with the
 * signing secret it verifies every request with — the standardwebhooks library's own
 * `Webhook.verify` — and how it answers (by default 204).
 */
export interface WebhookReceiver {
  url(path: string): string
  /** The secret requests to `path` are verified with. */
  expect(path: string, secret: string): void
  /** How `path` answers its n-th request (1-based); default 204. */
  respond(path: string, answer: (n: number) => number): void
  /** Requests to `path` (all paths when omitted), in arrival order. */
  received(path?: string): Received[]
  close(): Promise<void>
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const secrets = new Map<string, string>()
  const answers = new Map<string, (n: number) => number>()
  const log: Received[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const path = req.url ?? '/'
      const body = Buffer.concat(chunks).toString('utf8')
      const secret = secrets.get(path)
      let verified: Record<string, unknown> | undefined
      let verifyError: string | undefined
      try {
        if (!secret) throw new Error(`no secret for ${path}`)
        verified = new Webhook(secret).verify(
          body,
          req.headers as Record<string, string>
        ) as Record<string, unknown>
      } catch (error) {
        verifyError = error instanceof Error ? error.message : String(error)
      }
      const n = log.filter((entry) => entry.path === path).length + 1
      const status = (answers.get(path) ?? (() => 204))(n)
      log.push({ path, headers: req.headers, body, verified, verifyError, status })
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    expect: (path, secret) => void secrets.set(path, secret),
    respond: (path, answer) => void answers.set(path, answer),
    received: (path) => log.filter((entry) => path === undefined || entry.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
