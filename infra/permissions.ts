import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb'
import type { IGrantable } from 'aws-cdk-lib/aws-iam'

/**
 * The DynamoDB actions the store adapter (functions/store/db.ts) issues — nothing else reaches
 * the table. A test keeps this list equal to the commands that file sends.
 */
export const TABLE_DATA_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
] as const

/** Grants exactly TABLE_DATA_ACTIONS on the table and its indexes (never `*`). */
export function grantTableData(table: TableV2, grantee: IGrantable): void {
  table.grant(grantee, ...TABLE_DATA_ACTIONS)
}
