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

  /** A value unique per organization (e.g. `email`, `group-name`), normalised by the caller. */
  uniqueClaim: (orgId: string, kind: string, value: string): Key => ({
    PK: `ORG#${orgId}`,
    SK: `UNIQ#${kind}#${value}`,
  }),

  /** A short lease serialising one kind of change in an organization. */
  lock: (orgId: string, name: string): Key => ({ PK: `ORG#${orgId}`, SK: `LOCK#${name}` }),

  member: (orgId: string, memberId: string): Key => ({
    PK: `ORG#${orgId}`,
    SK: `MEM#${memberId}`,
  }),
  memberPrefix: 'MEM#',
  /** GSI1 partition of the members with one SCIM externalId (GSI1SK = member id). */
  membersByExternalId: (orgId: string, externalId: string) => `MEMEXT#${orgId}#${externalId}`,
  /** GSI2 partition of the members holding one org role with one status (e.g. active admins). */
  membersByRole: (orgId: string, orgRole: string, status: string) =>
    `MEMROLE#${orgId}#${orgRole}#${status}`,

  group: (orgId: string, groupId: string): Key => ({ PK: `ORG#${orgId}`, SK: `GRP#${groupId}` }),
  groupPrefix: 'GRP#',
  /** GSI1 partition of the groups with one SCIM externalId (GSI1SK = group id). */
  groupsByExternalId: (orgId: string, externalId: string) => `GRPEXT#${orgId}#${externalId}`,

  scimToken: (orgId: string, tokenId: string): Key => ({
    PK: `ORG#${orgId}`,
    SK: `SCT#${tokenId}`,
  }),
  scimTokenPrefix: 'SCT#',

  groupMembership: (orgId: string, groupId: string, memberId: string): Key => ({
    PK: `ORG#${orgId}`,
    SK: `GMEM#${groupId}#${memberId}`,
  }),
  groupMembershipPrefix: (groupId: string) => `GMEM#${groupId}#`,

  grant: (orgId: string, workspaceId: string, principalType: string, principalId: string): Key => ({
    PK: `ORG#${orgId}`,
    SK: `GRANT#${workspaceId}#${principalType}#${principalId}`,
  }),
  grantPrefix: (workspaceId: string) => `GRANT#${workspaceId}#`,
  /** GSI1 partition of one principal's grants (GSI1SK = workspace id). */
  grantsOfPrincipal: (orgId: string, principalType: string, principalId: string) =>
    `GRANTS#${orgId}#${principalType}#${principalId}`,

  invite: (orgId: string, inviteId: string): Key => ({ PK: `ORG#${orgId}`, SK: `INV#${inviteId}` }),
  invitePrefix: 'INV#',
  inviteToken: (tokenHash: string): Key => ({ PK: `INVTOKEN#${tokenHash}`, SK: 'INVTOKEN' }),

  seatPool: (orgId: string, product: string): Key => ({
    PK: `ORG#${orgId}`,
    SK: `SEATPOOL#${product}`,
  }),
  seat: (orgId: string, product: string, memberId: string): Key => ({
    PK: `ORG#${orgId}`,
    SK: `SEAT#${product}#${memberId}`,
  }),

  apiKey: (orgId: string, keyId: string): Key => ({ PK: `ORG#${orgId}`, SK: `KEY#${keyId}` }),
  apiKeyPrefix: 'KEY#',
  /** GSI1 partition of the API keys owned by one member (GSI1SK = key id). */
  apiKeysOfMember: (orgId: string, memberId: string) => `MEMKEYS#${orgId}#${memberId}`,
  // ----- Decisions (docs/authorization.md) -----

  /**
   * The organization's revision: `revision` is bumped after every committed change that can
   * affect a decision, `policy_revision` after every change of its custom policies.
   */
  revision: (orgId: string): Key => ({ PK: `ORG#${orgId}`, SK: 'REV' }),

  /** A custom Cedar policy of the organization, by its slug id. */
  customPolicy: (orgId: string, policyId: string): Key => ({
    PK: `ORG#${orgId}`,
    SK: `POLICY#${policyId}`,
  }),
  customPolicyPrefix: 'POLICY#',

  /** A recorded product decision (docs/decision-log.md): one partition per organization. */
  decisionRecord: (orgId: string, decisionId: string): Key => ({
    PK: `DLOG#${orgId}`,
    SK: `DEC#${decisionId}`,
  }),
  decisionLogPartition: (orgId: string) => `DLOG#${orgId}`,
  decisionRecordPrefix: 'DEC#',

  // ----- Usage, prices, spend limits and budgets (docs/access-patterns.md, "Usage") -----

  prices: (orgId: string): Key => ({ PK: `ORG#${orgId}`, SK: 'PRICES' }),

  /** The organization's limit (workspaceId null) or a workspace's. */
  spendLimit: (orgId: string, workspaceId: string | null): Key => ({
    PK: `ORG#${orgId}`,
    SK: workspaceId ? `SPEND_LIMIT#WS#${workspaceId}` : 'SPEND_LIMIT#ORG',
  }),
  workspaceSpendLimitPrefix: 'SPEND_LIMIT#WS#',
  /** GSI1 partition listing every spend limit of the deployment (the job evaluates them all). */
  spendLimitsIndex: 'SPEND_LIMITS',

  budgetState: (orgId: string, workspaceId: string | null): Key => ({
    PK: `ORG#${orgId}`,
    SK: workspaceId ? `BUDGET#WS#${workspaceId}` : 'BUDGET#ORG',
  }),
  /** One per scope, month and threshold: its conditional creation makes an alert fire once. */
  budgetAlert: (orgId: string, workspaceId: string | null, month: string, threshold: number) => ({
    PK: `ORG#${orgId}`,
    SK: `BUDGET_ALERT#${month}#${workspaceId ?? 'ORG'}#${String(threshold).padStart(4, '0')}`,
  }),

  /**
   * A copy of a usage event, as one journal slot holds it: one item per (event id, slot), in one
   * of USAGE_EVENT_BUCKETS partitions per organization chosen by the id (store/usage/events.ts).
   * Event ids are visible ASCII (never a space), so `<id> ` prefixes exactly one id's copies and
   * a batch's ids are read by sort-key range.
   */
  usageEventCopy: (orgId: string, bucket: number, eventId: string, slot: string): Key => ({
    PK: `UEVC#${orgId}#${bucket}`,
    SK: `${eventId} ${slot}`,
  }),
  usageEventCopies: (orgId: string, bucket: number) => `UEVC#${orgId}#${bucket}`,
  /**
   * Before the copies (tables written by earlier versions): the raw event, one partition per
   * (organization, event id), and the job's counted marker beside it. Read, never written, for
   * events that may have been ingested then (store/usage/layout.ts).
   */
  usageEvent: (orgId: string, eventId: string): Key => ({
    PK: `UEV#${orgId}#${eventId}`,
    SK: 'RAW',
  }),
  usageCounted: (orgId: string, eventId: string): Key => ({
    PK: `UEV#${orgId}#${eventId}`,
    SK: 'COUNTED',
  }),
  /** Since when usage events are stored as copies (store/usage/layout.ts). */
  usageLayout: { PK: 'USAGE_LAYOUT', SK: 'COPIES' } as Key,

  /** A journal slot: up to 500 accepted events waiting for aggregation, in shard `shard`. */
  usageSlot: (shard: number, slotId: string): Key => ({ PK: `UJ#${shard}`, SK: `S#${slotId}` }),
  usageJournalPartition: (shard: number) => `UJ#${shard}`,
  usageSlotPrefix: 'S#',

  /** The aggregation job's lock (one run at a time) and its round in progress. */
  usageJobLock: { PK: 'USAGE_JOB', SK: 'LOCK' } as Key,

  /**
   * Hourly totals: one partition per organization and day, one item per hour × workspace ×
   * model × product × api key × member (dimensions never contain '#'; absent ones are empty).
   */
  usageHourly: (orgId: string, day: string, hour: string, dimensions: readonly string[]): Key => ({
    PK: `USAGE#${orgId}#H#${day}`,
    SK: [hour, ...dimensions].join('#'),
  }),
  usageHourlyPartition: (orgId: string, day: string) => `USAGE#${orgId}#H#${day}`,
  /** Daily totals: one partition per organization and month, SK `<DD>#<dimensions>`. */
  usageDaily: (orgId: string, month: string, day: string, dimensions: readonly string[]): Key => ({
    PK: `USAGE#${orgId}#D#${month}`,
    SK: [day, ...dimensions].join('#'),
  }),
  usageDailyPartition: (orgId: string, month: string) => `USAGE#${orgId}#D#${month}`,
  /** Month totals of the organization (SK `ORG`) and of each workspace (SK `WS#<ws>`). */
  usageMonthly: (orgId: string, month: string, workspaceId: string | null): Key => ({
    PK: `USAGE#${orgId}#M#${month}`,
    SK: workspaceId ? `WS#${workspaceId}` : 'ORG',
  }),
  /**
   * Live spend of the organization's month, one of a few shards (usage/live-spend.ts), each its
   * own partition so one organization's ingestion spreads its ADDs.
   */
  usageLiveSpend: (orgId: string, month: string, shard: number): Key => ({
    PK: `USAGE#${orgId}#L#${month}#${shard}`,
    SK: 'LIVE',
  }),

  // ----- Webhooks (docs/webhooks.md) -----

  /** A webhook endpoint of the organization (its signing secret is an internal field). */
  webhookEndpoint: (orgId: string, endpointId: string): Key => ({
    PK: `ORG#${orgId}`,
    SK: `WHK#${endpointId}`,
  }),
  webhookEndpointPrefix: 'WHK#',
  /** The outbox: one item per event and endpoint, in the endpoint's own partition. */
  webhookDelivery: (orgId: string, endpointId: string, eventId: string): Key => ({
    PK: `WHD#${orgId}#${endpointId}`,
    SK: `D#${eventId}`,
  }),
  webhookDeliveryPartition: (orgId: string, endpointId: string) => `WHD#${orgId}#${endpointId}`,
  webhookDeliveryPrefix: 'D#',
  /** GSI1 partition (one of a few shards) of the deliveries waiting for an attempt. */
  webhookDueShard: (shard: number) => `WHDUE#${shard}`,

  /** The rate limits of the organization (defaults) or of one workspace (overrides). */
  rateLimits: (orgId: string, workspaceId: string | null): Key => ({
    PK: `ORG#${orgId}`,
    SK: workspaceId ? `RATE_LIMITS#WS#${workspaceId}` : 'RATE_LIMITS#ORG',
  }),
  workspaceRateLimitsPrefix: 'RATE_LIMITS#WS#',
  /**
   * One shard of an organization's rate-limit counters in one window (`window` is a minute,
   * `m2026-12-01T10:05`, or a month, `M2026-12`): every counter of the organization and its
   * workspaces in that window, so one conditional UpdateItem checks them all.
   */
  rateWindow: (orgId: string, window: string, shard: number): Key => ({
    // The shard is in the partition key: shards of a hot window land on different partitions.
    PK: `RLW#${orgId}#${window}#${shard}`,
    SK: 'RLW',
  }),
  /** Set by ingestion when live spend reaches a hard limit (docs/rate-limits.md, "Live spend"). */
  liveSuspension: (orgId: string, workspaceId: string | null): Key => ({
    PK: `ORG#${orgId}`,
    SK: workspaceId ? `LIVE_SUSPENDED#WS#${workspaceId}` : 'LIVE_SUSPENDED#ORG',
  }),
}
