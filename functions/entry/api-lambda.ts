/** Lambda entry for the HTTP API (API Gateway HTTP API → this handler → the Hono app). */
import { handle } from 'hono/aws-lambda'
import { createApp } from '../app/app.js'
import { dbFromEnvironment, readOperatorKey } from '../lambda/bootstrap.js'
import { alertPublisherFromEnv } from '../lib/alert-bus.js'
import { systemClock } from '../lib/clock.js'

// Cold start (the ESM bundle's top-level await runs in Lambda's init phase): the table client
// and the operator secret from Secrets Manager, once per instance.
const db = dbFromEnvironment()
const operatorKey = await readOperatorKey()

export const handler = handle(
  createApp({ db, clock: systemClock, operatorKey, alertPublisher: alertPublisherFromEnv() })
)
