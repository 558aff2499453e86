/** Lambda entry for the HTTP API (API Gateway HTTP API → this handler → the Hono app). */
import { handle } from 'hono/aws-lambda'
import { createApp } from '../app/app.js'
import { alertPublisherFromEnv } from '../lib/alert-bus.js'
import { systemClock } from '../lib/clock.js'
import { createDocumentClient } from '../store/client.js'
import { Db } from '../store/db.js'

const tableName = process.env.TABLE_NAME
const operatorKey = process.env.OPERATOR_KEY
if (!tableName || !operatorKey) throw new Error('TABLE_NAME and OPERATOR_KEY must be set')

const db = new Db(createDocumentClient({ endpoint: process.env.DYNAMODB_ENDPOINT }), tableName)

export const handler = handle(
  createApp({ db, clock: systemClock, operatorKey, alertPublisher: alertPublisherFromEnv() })
)
