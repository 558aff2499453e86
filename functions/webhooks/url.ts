import { isIP } from 'node:net'
import { invalid } from '../lib/errors.js'

export interface WebhookUrlPolicy {
  /**
   * Whether `http://localhost`, `http://127.0.0.1` and `http://[::1]` are accepted: only where
   * the server runs on a developer's machine (WEBHOOK_ALLOW_LOCAL_HTTP, read in
   * functions/entry/; off in AWS, where such a URL would reach the deliverer itself).
   */
  allowLocalHttp: boolean
}

export const STRICT_URL_POLICY: WebhookUrlPolicy = { allowLocalHttp: false }

export const MAX_WEBHOOK_URL_LENGTH = 2048

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * The endpoint URLs the deliverer may POST to: absolute `https://` URLs without credentials or
 * fragment, not to a loopback, private, link-local (cloud metadata) or unspecified IP literal;
 * `http://` to localhost only with `allowLocalHttp`. (Names are not resolved here, where they may
 * resolve differently later: the deliverer refuses to connect to an internal address a name
 * resolves to when it sends — deliverer.ts `createSendAttempt`.)
 */
export function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy, param = 'url'): string {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) {
    throw invalid(`url must be at most ${MAX_WEBHOOK_URL_LENGTH} characters.`, param)
  }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw invalid('url must be an absolute URL, e.g. https://example.com/webhooks.', param)
  }
  if (url.username || url.password) {
    throw invalid('url must not carry a user name or password.', param)
  }
  if (url.hash) throw invalid('url must not have a fragment (#…).', param)
  const local = LOCAL_HOSTS.has(url.hostname)
  if (url.protocol === 'http:' && local && policy.allowLocalHttp) return url.toString()
  if (url.protocol !== 'https:') {
    throw invalid(
      policy.allowLocalHttp
        ? 'url must use https (http only to localhost, 127.0.0.1 or [::1] on a local server).'
        : 'url must use https.',
      param
    )
  }
  if (!policy.allowLocalHttp && (local || isInternalAddress(url.hostname))) {
    throw invalid('url must not point at a loopback, private or link-local address.', param)
  }
  return url.toString()
}

/** IP literals that name this machine or a private network (not the public internet). */
export function isInternalAddress(hostname: string): boolean {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname
  const version = isIP(host)
  if (version === 4) {
    const [a, b] = host.split('.').map(Number) as [number, number]
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168)
    )
  }
  if (version === 6) {
    const lower = host.toLowerCase()
    if (lower === '::' || lower === '::1') return true
    if (lower.startsWith('::ffff:')) return true
    return /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower)
  }
  return false
}
