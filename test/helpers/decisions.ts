import type { Harness } from './harness.js'

export interface Ask {
  principal: { type: 'Member' | 'ApiKey'; id: string }
  action: string
  workspace: string
  context?: Record<string, unknown>
}

/** Asks POST /v1/authorize; returns the decision body (throws on a non-200). */
export function decider(h: Harness, key: string, organizationId: string) {
  const one = async (ask: Ask) => {
    const res = await h.call('POST', '/v1/authorize', {
      key,
      body: {
        organization_id: organizationId,
        principal: ask.principal,
        action: ask.action,
        resource: { type: 'Workspace', id: ask.workspace },
        ...(ask.context ? { context: ask.context } : {}),
      },
    })
    if (res.status !== 200) throw new Error(`authorize: ${res.status} ${res.text}`)
    return res.body as {
      decision: 'allow' | 'deny'
      determining_policies: { policy_id: string; description: string }[]
      errors: { code: string; message: string; policy_id?: string }[]
    }
  }
  return {
    one,
    /** The decision and the ids of the policies that determined it, e.g. "deny:forbid-x". */
    async summary(ask: Ask): Promise<string> {
      const d = await one(ask)
      const ids = d.determining_policies.map((p) => p.policy_id).sort()
      return ids.length ? `${d.decision}:${ids.join(',')}` : d.decision
    },
    member: (id: string, action: string, workspace: string) =>
      one({ principal: { type: 'Member', id }, action, workspace }),
  }
}
