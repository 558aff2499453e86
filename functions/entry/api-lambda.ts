/** Lambda entry for the HTTP API (API Gateway HTTP API → this handler → the Hono app). */
import { fileURLToPath } from 'node:url'
import { handle } from 'hono/aws-lambda'
import { createApp } from '../app/app.js'
import { decisionOptions, lambdaConfig } from '../config.js'
import { alertPublisherFor } from '../lib/alert-bus.js'
import { systemClock } from '../lib/clock.js'
import { dbFromEnvironment, readOperatorKey } from './lambda-bootstrap.js'
import { limitResponseSize } from './response-limit.js'

// Cold start (the ESM bundle's top-level await runs in Lambda's init phase): this function's
// settings, the table client and the operator secret from Secrets Manager, once per instance.
const config = lambdaConfig(process.env)
const db = dbFromEnvironment(process.env)
const operatorKey = await readOperatorKey(process.env)

// A result over Lambda's 6 MB would reach the client as a bare 502: answered as a 400 instead.
export const handler = limitResponseSize(
  handle(
    createApp({
      db,
      clock: systemClock,
      operatorKey,
      alertPublisher: alertPublisherFor(config.alertBusName),
      decisionOptions: decisionOptions(process.env),
      // Lambda freezes the instance once the response is returned: write decisions before it.
      decisionLogOptions: { mode: 'before-response' },
      webhookUrls: config.webhookUrls,
      // Beside the bundle (infra/bundling.ts); read on the first /console request, not here.
      consoleDir: fileURLToPath(new URL('./console/', import.meta.url)),
    })
  )
)
