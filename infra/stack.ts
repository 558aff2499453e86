import { Stack, type StackProps } from 'aws-cdk-lib'
import type { Construct } from 'constructs'
import { createTable } from './table.js'

/** The deployment: for now the single table (the functions and API join it as they land). */
export class AdminEngineStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props)
    createTable(this, 'Table')
  }
}
