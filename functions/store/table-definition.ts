/**
 * The single table, defined once. The local bootstrap (`ensureTable`) and the CDK stack both
 * read this object, so the two cannot drift. Key design: docs/access-patterns.md.
 */
export const TABLE_DEFINITION = {
  partitionKey: 'PK',
  sortKey: 'SK',
  /** Overloaded secondary indexes; every item that needs one sets its GSIn* attributes. */
  globalSecondaryIndexes: [
    { indexName: 'GSI1', partitionKey: 'GSI1PK', sortKey: 'GSI1SK' },
    { indexName: 'GSI2', partitionKey: 'GSI2PK', sortKey: 'GSI2SK' },
  ],
  /** Epoch seconds. DynamoDB deletes expired items late (and dynalite never does), so every
   * read of an item that can expire also checks this attribute. */
  timeToLiveAttribute: 'expires_at_epoch',
} as const

export type IndexName = (typeof TABLE_DEFINITION.globalSecondaryIndexes)[number]['indexName']

export const DEFAULT_TABLE_NAME = 'admin-engine'
