import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { AdminAction, AdminResource } from '../../authz/admin.js'
import { type AdminPrincipal, actorOf, type ServiceContext } from '../../domain/context.js'
import { getWorkspace } from '../../domain/workspaces.js'
import { forbidden, invalid, NO_SUCH_VERSION } from '../../lib/errors.js'
import type { AppEnv } from './env.js'

/** The domain's view of a request: store, clock, acting principal, request id. */
export function serviceContext(c: Context<AppEnv>): ServiceContext {
  const { db, clock } = c.get('deps')
  return { db, clock, actor: actorOf(c.get('principal')), requestId: c.get('requestId') }
}

export function adminPrincipal(c: Context<AppEnv>): AdminPrincipal {
  const principal = c.get('principal')
  if (principal.kind !== 'admin') throw forbidden('This route needs an admin key.')
  return principal
}

/**
 * Asks the policy engine whether the calling admin key may do `action` on `resource` (the
 * same decision path and policy set as product decisions); a deny is a 403 naming the action.
 * Returns the admin principal for convenience.
 */
export async function guard(
  c: Context<AppEnv>,
  action: AdminAction,
  resource?: AdminResource
): Promise<AdminPrincipal> {
  const principal = adminPrincipal(c)
  const target = resource ?? { type: 'Organization', organizationId: principal.organizationId }
  const decision = await c.get('deps').decisions.authorizeAdmin(principal, action, target)
  if (decision.decision !== 'allow') {
    throw forbidden(
      `An admin key with roles [${principal.orgRoles.join(', ')}] may not ${action.replaceAll('_', ' ')}.`
    )
  }
  return principal
}

/**
 * Loads a workspace of the caller's organization (404 for another organization's) and asks
 * Cedar whether the key may do `action` on it; returns the organization's id.
 */
export async function guardWorkspace(
  c: Context<AppEnv>,
  action: AdminAction,
  workspaceId: string
): Promise<string> {
  const { organizationId } = adminPrincipal(c)
  const workspace = await getWorkspace(serviceContext(c), organizationId, workspaceId)
  await guard(c, action, { type: 'Workspace', workspace })
  return organizationId
}

/** If-Match as RFC 9110 §13.1.1 reads it: `*`, or a list of entity tags (possibly empty). */
export type IfMatch = { any: true } | { any: false; tags: { weak: boolean; opaque: string }[] }

// entity-tag = [ W/ ] DQUOTE *etagc DQUOTE ; etagc = %x21 / %x23-7E / obs-text (%x80-FF)
const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$/

/** Parses an If-Match field value; undefined when it is not syntactically valid. */
export function parseIfMatch(value: string): IfMatch | undefined {
  const trimmed = value.trim()
  if (trimmed === '*') return { any: true }
  const tags: { weak: boolean; opaque: string }[] = []
  // A list element is OWS-separated by commas and may be empty (RFC 9110 §5.6.1.2); commas
  // cannot occur inside an opaque-tag, so splitting on them is exact.
  for (const element of trimmed.split(',')) {
    const item = element.trim()
    if (item === '') continue
    const match = ENTITY_TAG.exec(item)
    if (!match) return undefined
    tags.push({ weak: match[1] !== undefined, opaque: match[2]! })
  }
  return { any: false, tags }
}

/**
 * What If-Match requires: `'any'` for `*` (a current representation, RFC 9110 §13.1.1), a
 * version, or undefined when the header is absent. Well-formed tags that this API never issues
 * (`"nope"`, `"03"`) can match nothing: NO_SUCH_VERSION, so the request ends in 412. A weak tag
 * compares by its opaque value, because SCIM clients send back the weak ETags SCIM hands out.
 * A syntactically invalid header → 400.
 */
export function ifMatchPrecondition(c: Context<AppEnv>): number | 'any' | undefined {
  const header = c.req.header('if-match')
  if (header === undefined) return undefined
  const parsed = parseIfMatch(header)
  if (!parsed) {
    throw invalid(
      'If-Match must be * or a list of entity tags, e.g. "3" (as ETag returned it).',
      'If-Match'
    )
  }
  if (parsed.any) return 'any'
  const versions = new Set(
    parsed.tags
      .map((tag) => tag.opaque)
      .filter((opaque) => /^(0|[1-9]\d{0,14})$/.test(opaque))
      .map(Number)
  )
  if (versions.size > 1) {
    // Only one version is current; several named at once is never what a client that read
    // the resource means, and the domain checks a single expected version.
    throw invalid('If-Match may name only one version of the resource.', 'If-Match')
  }
  const [version] = versions
  return version ?? NO_SUCH_VERSION
}

/**
 * The version If-Match requires, for a route on a resource that exists or is a 404 (which
 * takes precedence over 412, RFC 9110 §13.2.1): there `*` holds whenever the route proceeds.
 */
export function expectedVersion(c: Context<AppEnv>): number | undefined {
  const precondition = ifMatchPrecondition(c)
  return precondition === 'any' ? undefined : precondition
}

export function etag(version: number): string {
  return `"${version}"`
}

/**
 * The JSON response for a versioned record, with its version as the ETag that If-Match sends
 * back; a record without a version (a built-in policy) has none.
 */
export function respondWithVersion<
  T extends { version: number | null },
  S extends ContentfulStatusCode,
>(c: Context<AppEnv>, record: T, status: S) {
  if (record.version !== null) c.header('ETag', etag(record.version))
  return c.json(record, status)
}
