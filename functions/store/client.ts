import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb'
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb'
import { MARSHALL_OPTIONS } from './attribute-values.js'
import { TABLE_DEFINITION } from './table-definition.js'
import { usageLayout } from './usage/layout.js'

export interface StoreConnection {
  /**
   * e.g. http://127.0.0.1:4567 for dynalite; omitted for AWS, where the SDK finds the region and
   * credentials in the function's environment itself (AWS_REGION, the role's AWS_* keys).
   */
  endpoint?: string
  /** Default with an endpoint: us-east-1 (a local server takes any). */
  region?: string
  /**
   * With an endpoint: sign with the SDK's own credentials (e.g. for a real DynamoDB endpoint)
   * instead of the placeholders a local server accepts.
   */
  awsCredentials?: boolean
}

export function createDocumentClient(connection: StoreConnection = {}): DynamoDBDocumentClient {
  const local = connection.endpoint !== undefined && !connection.awsCredentials
  const region = connection.region ?? (connection.endpoint !== undefined ? 'us-east-1' : undefined)
  const client = new DynamoDBClient({
    ...(region ? { region } : {}),
    ...(connection.endpoint ? { endpoint: connection.endpoint } : {}),
    // A local DynamoDB-compatible server accepts any credentials.
    ...(local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    maxAttempts: 5,
  })
  return DynamoDBDocumentClient.from(client, { marshallOptions: MARSHALL_OPTIONS })
}

/** Creates the table from TABLE_DEFINITION unless it exists (local and test bootstrap only). */
export async function ensureTable(doc: DynamoDBDocumentClient, tableName: string): Promise<void> {
  try {
    await doc.send(new DescribeTableCommand({ TableName: tableName }))
    return
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error
  }
  const { partitionKey, sortKey, globalSecondaryIndexes } = TABLE_DEFINITION
  const attributes = new Set<string>([partitionKey, sortKey])
  for (const index of globalSecondaryIndexes) {
    attributes.add(index.partitionKey)
    attributes.add(index.sortKey)
  }
  await doc.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [...attributes].map((name) => ({
        AttributeName: name,
        AttributeType: 'S',
      })),
      KeySchema: [
        { AttributeName: partitionKey, KeyType: 'HASH' },
        { AttributeName: sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: globalSecondaryIndexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
    })
  )
  // dynalite and DynamoDB both create asynchronously; wait until ACTIVE.
  for (let attempt = 0; attempt < 100; attempt++) {
    const described = await doc.send(new DescribeTableCommand({ TableName: tableName }))
    if (described.Table?.TableStatus === 'ACTIVE') {
      // A new table never held usage events the way earlier versions stored them.
      await doc.send(
        new PutCommand({ TableName: tableName, Item: usageLayout.createdWithCopies() })
      )
      return
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`table ${tableName} did not become ACTIVE`)
}
