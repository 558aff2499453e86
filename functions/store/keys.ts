import type { Key } from './db.js'

/**
 * Every key of the single table is built here and nowhere else. The access patterns these
 * serve are listed in docs/access-patterns.md; keep the two in step.
 */
export const keys = {
  organization: (orgId: string): Key => ({ PK: `ORG#${orgId}`, SK: 'ORG' }),
  /** GSI1 partition that lists every organization (operator only). */
  organizationsIndex: 'ORGS',

  workspace: (orgId: string, workspaceId: string): Key => ({
    PK: `ORG#${orgId}`,
    SK: `WS#${workspaceId}`,
  }),
  workspacePrefix: 'WS#',

  adminKey: (orgId: string, keyId: string): Key => ({ PK: `ORG#${orgId}`, SK: `ADK#${keyId}` }),
  adminKeyPrefix: 'ADK#',

  serviceKey: (keyId: string): Key => ({ PK: 'SERVICE_KEYS', SK: `SVK#${keyId}` }),
  serviceKeysPartition: 'SERVICE_KEYS',
  serviceKeyPrefix: 'SVK#',

  credential: (secretHash: string): Key => ({ PK: `CRED#${secretHash}`, SK: 'CRED' }),

  auditEvent: (orgId: string, eventId: string): Key => ({
    PK: `AUDIT#${orgId}`,
    SK: `EVT#${eventId}`,
  }),
  auditPartition: (orgId: string) => `AUDIT#${orgId}`,
  auditPrefix: 'EVT#',

  idempotency: (scope: string, keyHash: string): Key => ({
    PK: `IDEM#${scope}#${keyHash}`,
    SK: 'IDEM',
  }),
}
