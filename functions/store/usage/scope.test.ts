import { describe, expect, it } from 'vitest'
import { organizationScope, parseScopeName, scopeName } from './scope.js'

describe('usage scope names', () => {
  it('names the organization by its id and a workspace by both ids', () => {
    expect(scopeName(organizationScope('org_a'))).toBe('org_a')
    expect(scopeName({ organization_id: 'org_a', workspace_id: 'ws_1' })).toBe('org_a/ws_1')
  })

  it('reads back what it wrote (the job lock stores these names)', () => {
    for (const scope of [
      organizationScope('org_01JD'),
      { organization_id: 'org_01JD', workspace_id: 'ws_01JE' },
    ]) {
      expect(parseScopeName(scopeName(scope))).toEqual(scope)
    }
  })

  it('keeps an organization apart from its workspaces and from other organizations', () => {
    const names = new Set(
      [
        organizationScope('org_a'),
        organizationScope('org_b'),
        { organization_id: 'org_a', workspace_id: 'ws_1' },
        { organization_id: 'org_b', workspace_id: 'ws_1' },
      ].map(scopeName)
    )
    expect(names.size).toBe(4)
  })
})
