import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { LookupFunction } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Webhook } from 'standardwebhooks'
import type { Clock } from '../lib/clock.js'
import { newUlid } from '../lib/ids.js'
import type { WebhookAttempt } from '../model/webhooks.js'
import { type Db, forEachConcurrently } from '../store/db.js'
import { type DueDelivery, webhookDeliveries, webhookEndpoints } from '../store/webhooks.js'
import { isInternalAddress, STRICT_URL_POLICY, type WebhookUrlPolicy } from './url.js'

/** A receiver has this long to answer an attempt (contract: 10 s); no answer is a failure. */
export const ATTEMPT_TIMEOUT_MS = 10_000
/**
 * An attempt is claimed for this long: well over the attempt's timeout, so the claim outlives
 * the send and the write that records it. A deliverer that died mid-attempt leaves its claim
 * to expire; the attempt is then made again (at least once).
 */
export const ATTEMPT_LEASE_MS = 60_000
/** The first retry waits this long; each further one twice as long, up to RETRY_MAX_DELAY_MS. */
export const RETRY_BASE_DELAY_MS = 30_000
export const RETRY_MAX_DELAY_MS = 4 * 60 * 60_000
/** Retry delays vary by ±20 %, so endpoints that failed together are not retried together. */
export const RETRY_JITTER = 0.2
/** A run starts no new batch after this long (the scheduled Lambda runs every minute). */
export const DELIVERY_RUN_BUDGET_MS = 40_000
const BATCH_PER_SHARD = 25
const CONCURRENT_ATTEMPTS = 8
const MAX_ERROR_LENGTH = 300

export interface OutgoingRequest {
  url: string
  headers: Record<string, string>
  body: string
  timeoutMs: number
}

/** Sends one attempt; resolves with the receiver's status, rejects when no response came. */
export type SendAttempt = (request: OutgoingRequest) => Promise<{ status: number }>

export interface DelivererDeps {
  db: Db
  clock: Clock
  /** Defaults to `createSendAttempt(urlPolicy)`. */
  send?: SendAttempt | undefined
  /** Which endpoints may be reached (strict, the default: https to public addresses only). */
  urlPolicy?: WebhookUrlPolicy | undefined
  /** In [0, 1): the jitter of retry delays. */
  random?: (() => number) | undefined
  runBudgetMs?: number | undefined
}

export interface DeliveryRunSummary {
  object: 'webhook_delivery_run'
  attempts: number
  succeeded: number
  retrying: number
  failed: number
}

/**
 * The delay before retry `n` (n = 1 after the first failed attempt): 30 s, 1 min, 2 min, … up
 * to 4 h, each ±20 %. With the 24-hour window that is about 14 attempts (docs/webhooks.md).
 */
export function retryDelayMs(failedAttempts: number, random: () => number = Math.random): number {
  const base = Math.min(RETRY_BASE_DELAY_MS * 2 ** (failedAttempts - 1), RETRY_MAX_DELAY_MS)
  return Math.round(base * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random()))
}

/** Standard Webhooks headers for one attempt (the signature covers id, timestamp and body). */
export function signedHeaders(
  secret: string,
  eventId: string,
  at: Date,
  body: string
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'admin-engine-webhooks/1',
    'webhook-id': eventId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(eventId, at, body),
  }
}

/**
 * A DNS lookup that refuses to connect where the URL check cannot see: a host name that resolves
 * (now, at connection time — so a name re-pointed after the check, DNS rebinding, is caught too) to
 * a loopback, private, CGNAT, link-local or unspecified address. Every address is checked, not only
 * the one tried first.
 */
export function guardedLookup(resolve: Resolver = dnsLookup): LookupFunction {
  return (hostname, options, callback) =>
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 4)
      const internal = addresses.find((entry) => isInternalAddress(entry.address))
      if (internal) {
        const refused = Object.assign(
          new Error(
            `refused: ${hostname} resolves to ${internal.address}, a loopback, private or link-local address`
          ),
          { code: 'EINTERNALADDRESS' }
        )
        return callback(refused, '', 4)
      }
      if (options.all) return (callback as unknown as AllCallback)(null, addresses)
      const [first] = addresses
      if (!first)
        return callback(
          Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }),
          '',
          4
        )
      callback(null, first.address, first.family)
    })
}

/** How host names are resolved: `dns.lookup` with `all: true` (tests substitute a fake DNS). */
export type Resolver = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void
) => void

type AllCallback = (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void

/**
 * The real sender: one POST, no redirects followed (a 3xx is a failed attempt), the response body
 * discarded. Under the strict policy (AWS) it connects only over https and only to public
 * addresses (`guardedLookup`); a local server's policy also allows its own http://localhost.
 */
export function createSendAttempt(
  policy: WebhookUrlPolicy,
  resolver: Resolver = dnsLookup
): SendAttempt {
  const lookup = guardedLookup(resolver)
  return (request) =>
    new Promise((resolve, reject) => {
      const url = new URL(request.url)
      if (url.protocol !== 'https:' && !policy.allowLocalHttp) {
        return reject(new Error(`refused: ${url.protocol} endpoints are not allowed here`))
      }
      // An IP literal is connected to without a lookup: check it here.
      if (!policy.allowLocalHttp && isInternalAddress(url.hostname)) {
        return reject(
          new Error(`refused: ${url.hostname} is a loopback, private or link-local address`)
        )
      }
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest
      const outgoing = send(
        url,
        {
          method: 'POST',
          headers: {
            ...request.headers,
            'content-length': String(Buffer.byteLength(request.body)),
          },
          signal: AbortSignal.timeout(request.timeoutMs),
          ...(policy.allowLocalHttp ? {} : { lookup }),
        },
        (response) => {
          // The body is not used; release the connection.
          response.resume()
          resolve({ status: response.statusCode ?? 0 })
        }
      )
      outgoing.on('error', reject)
      outgoing.end(request.body)
    })
}

/**
 * One pass of the deliverer — the same function for the scheduled Lambda (every minute) and the
 * local server's timer. It reads the deliveries that are due from the outbox's index, claims
 * each attempt with a lease, POSTs the signed event, and records the attempt with what comes
 * next: done on a 2xx, else a retry with exponential backoff and jitter until 24 h after the
 * event, then `failed`. Repeats while there is due work and time left.
 */
export async function runWebhookDeliveries(deps: DelivererDeps): Promise<DeliveryRunSummary> {
  const summary: DeliveryRunSummary = {
    object: 'webhook_delivery_run',
    attempts: 0,
    succeeded: 0,
    retrying: 0,
    failed: 0,
  }
  const owner = `dlv_${newUlid()}`
  const started = performance.now()
  const budget = deps.runBudgetMs ?? DELIVERY_RUN_BUDGET_MS
  const endpoints = new EndpointCache(deps.db)
  while (performance.now() - started < budget) {
    const due = await webhookDeliveries.due(deps.db, deps.clock.now(), BATCH_PER_SHARD)
    if (due.length === 0) break
    let claimed = 0
    await forEachConcurrently(due, CONCURRENT_ATTEMPTS, async (delivery) => {
      const outcome = await deliverOne(deps, owner, endpoints, delivery)
      if (outcome === 'not_claimed') return
      claimed++
      if (outcome !== 'abandoned') {
        summary.attempts++
        summary[outcome]++
      }
    })
    // Nothing claimable (the index lags the table, or others hold the leases): stop here.
    if (claimed === 0) break
  }
  return summary
}

type Outcome = 'not_claimed' | 'abandoned' | 'succeeded' | 'retrying' | 'failed'

async function deliverOne(
  deps: DelivererDeps,
  owner: string,
  endpoints: EndpointCache,
  due: DueDelivery
): Promise<Outcome> {
  const { db, clock } = deps
  const claimed = await webhookDeliveries.claim(db, due, owner, clock.now(), ATTEMPT_LEASE_MS)
  if (!claimed) return 'not_claimed'
  const endpoint = await endpoints.get(claimed.organization_id, claimed.endpoint_id)
  if (!endpoint) {
    await webhookDeliveries.abandon(db, claimed, owner)
    return 'abandoned'
  }
  const attemptedAt = clock.now()
  const headers = signedHeaders(endpoint.secret, claimed.event_id, attemptedAt, claimed.payload)
  const send = deps.send ?? createSendAttempt(deps.urlPolicy ?? STRICT_URL_POLICY)
  const startedAt = performance.now()
  let statusCode: number | null = null
  let error: string | null = null
  try {
    statusCode = (
      await send({
        url: endpoint.url,
        headers,
        body: claimed.payload,
        timeoutMs: ATTEMPT_TIMEOUT_MS,
      })
    ).status
    if (statusCode < 200 || statusCode > 299) error = `HTTP ${statusCode}`
  } catch (cause) {
    error = describeFailure(cause)
  }
  const attempt: WebhookAttempt = {
    attempt: claimed.attempt_count + 1,
    attempted_at: attemptedAt.toISOString(),
    status_code: statusCode,
    duration_ms: Math.round(performance.now() - startedAt),
    error,
  }
  let outcome: Exclude<Outcome, 'not_claimed' | 'abandoned'>
  let next: string | undefined
  if (error === null) outcome = 'succeeded'
  else {
    const nextAt = clock.now().getTime() + retryDelayMs(attempt.attempt, deps.random)
    if (nextAt > Date.parse(claimed.give_up_at)) outcome = 'failed'
    else {
      outcome = 'retrying'
      next = new Date(nextAt).toISOString()
    }
  }
  const recorded = await webhookDeliveries.recordAttempt(
    db,
    claimed,
    owner,
    attempt,
    next
      ? { status: 'pending', nextAttemptAt: next }
      : { status: outcome as 'succeeded' | 'failed' }
  )
  // Lost the lease meanwhile (a send slower than the lease): the next holder records its own.
  return recorded ? outcome : 'not_claimed'
}

function describeFailure(cause: unknown): string {
  if (cause instanceof Error) {
    if (cause.name === 'TimeoutError' || cause.name === 'AbortError') {
      return `no response within ${ATTEMPT_TIMEOUT_MS / 1000} s`
    }
    const code =
      (cause as { code?: string }).code ?? (cause.cause as { code?: string } | undefined)?.code
    const text = code ? `${cause.message} (${code})` : cause.message
    return text.slice(0, MAX_ERROR_LENGTH)
  }
  return String(cause).slice(0, MAX_ERROR_LENGTH)
}

/** Endpoints read once per run (many deliveries usually go to few endpoints). */
class EndpointCache {
  private readonly cache = new Map<string, Promise<{ url: string; secret: string } | undefined>>()
  constructor(private readonly db: Db) {}

  get(orgId: string, endpointId: string) {
    const key = `${orgId}/${endpointId}`
    let found = this.cache.get(key)
    if (!found) {
      found = webhookEndpoints
        .getWithSecret(this.db, orgId, endpointId)
        .then((stored) =>
          stored ? { url: stored.record.url, secret: stored.internal.signing_secret } : undefined
        )
      this.cache.set(key, found)
    }
    return found
  }
}
