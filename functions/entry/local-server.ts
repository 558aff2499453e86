/**
 * `npm start`: the API on PORT over an embedded dynalite store persisted under DATA_DIR (or the
 * DynamoDB at DYNAMODB_ENDPOINT), with a demo organization created on first start.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createApp } from '../app/app.js'
import { localServerConfig, OPERATOR_KEY_PATTERN } from '../config.js'
import { createOrganization } from '../domain/organizations.js'
import { systemClock } from '../lib/clock.js'
import { logger } from '../lib/logger.js'
import { acquirePidLock, LockHeldError } from '../lib/pid-lock.js'
import { generateSecret } from '../lib/secrets.js'
import { createDocumentClient, ensureTable } from '../store/client.js'
import { Db } from '../store/db.js'
import { type EmbeddedStoreProcess, startEmbeddedStoreProcess } from '../store/embedded.js'
import { organizations } from '../store/organizations.js'
import { runAggregation } from '../usage/aggregation.js'
import { runWebhookDeliveries } from '../webhooks/deliverer.js'
import { createApiServer } from './node-server.js'

const config = localServerConfig(process.env)
/** The embedded store's process, when this server started one. */
let store: EmbeddedStoreProcess | undefined

/** A start-up failure the operator can act on: printed without a stack, exit code 1. */
class StartError extends Error {}

interface OperatorKey {
  key: string
  /** What the banner says about it; the secret itself only when it was generated now. */
  describe: string
  /** Writes a newly generated key beside the data (only once the server is listening). */
  persist(): void
}

function operatorKey(): OperatorKey {
  if (config.operatorKey) {
    if (!OPERATOR_KEY_PATTERN.test(config.operatorKey)) {
      throw new StartError(
        'OPERATOR_KEY must look like op_<at least 16 characters of [A-Za-z0-9_-]>'
      )
    }
    return { key: config.operatorKey, describe: 'from OPERATOR_KEY', persist: () => {} }
  }
  // Locally only: generated once and kept beside the data so restarts keep working. Printed only
  // when generated, so that restarts do not spread it into terminal scrollback and logs again.
  const file = resolve(config.dataDir, 'operator-key')
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim()
    return { key, describe: `kept in ${file} (printed on first start only)`, persist: () => {} }
  }
  const key = generateSecret('operator')
  return {
    key,
    describe: `${key}  (generated now, kept in ${file})`,
    persist: () => {
      writeFileSync(file, `${key}\n`, { mode: 0o600 })
      chmodSync(file, 0o600)
    },
  }
}

function listen(server: Server): Promise<AddressInfo> {
  return new Promise((resolvePromise, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${config.host}:${config.port}`
      if (error.code === 'EADDRINUSE') {
        reject(
          new StartError(
            `Port ${config.port} on ${config.host} is already in use (another npm start?). ` +
              `Stop that process or choose another port, e.g. PORT=${config.port + 1} npm start.`
          )
        )
      } else if (error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL') {
        reject(new StartError(`Cannot listen on ${where} (${error.code}); check PORT and HOST.`))
      } else reject(error)
    })
    server.listen(config.port, config.host, () => resolvePromise(server.address() as AddressInfo))
  })
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost'
  return host.includes(':') ? `[${host}]` : host
}

async function main() {
  mkdirSync(config.dataDir, { recursive: true })
  let endpoint = config.dynamodbEndpoint
  let storeNote = `store: ${endpoint}`
  if (!endpoint) {
    // One server per DATA_DIR: LevelDB would refuse a second one anyway, but only after the
    // port was taken; this says who holds it.
    const lockFile = resolve(config.dataDir, 'server.lock')
    let lock: { release(): void }
    try {
      lock = acquirePidLock(lockFile)
    } catch (error) {
      if (!(error instanceof LockHeldError)) throw error
      throw new StartError(
        `DATA_DIR ${resolve(config.dataDir)} is in use by process ${error.pid} (another npm start). ` +
          `Stop it, or start this one with another DATA_DIR. (Lock: ${lockFile})`
      )
    }
    process.once('exit', () => {
      store?.kill()
      lock.release()
    })
    let stopping = false
    const stop = () => {
      // Ctrl-C may arrive twice (from the terminal and relayed by tsx): stop once, cleanly.
      if (stopping) return
      stopping = true
      void (store?.close() ?? Promise.resolve()).finally(() => {
        lock.release()
        process.exit(0)
      })
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    // Its own process: the store does not compete with the API for this event loop.
    try {
      store = await startEmbeddedStoreProcess({ path: join(config.dataDir, 'dynamodb') })
    } catch (error) {
      throw new StartError(error instanceof Error ? error.message : String(error))
    }
    // Without its store the API only answers 500s: stop, visibly, instead.
    void store.unexpectedExit.then((what) => {
      process.stderr.write(`The embedded store (pid ${store?.pid}) ${what}; stopping.\n`)
      lock.release()
      process.exit(1)
    })
    endpoint = store.endpoint
    storeNote = `embedded store: ${endpoint}, pid ${store.pid}`
  } else {
    process.once('SIGINT', () => process.exit(0))
    process.once('SIGTERM', () => process.exit(0))
  }
  const doc = createDocumentClient({
    endpoint,
    region: config.storeRegion,
    awsCredentials: config.storeAwsCredentials,
  })
  await ensureTable(doc, config.tableName)
  const db = new Db(doc, config.tableName)
  const operator = operatorKey()
  const app = createApp({
    db,
    clock: systemClock,
    operatorKey: operator.key,
    decisionOptions: config.decisions,
    webhookUrls: config.webhookUrls,
    // Built by `npm start` (prestart) and the browser tests: scripts/build-console.ts.
    consoleDir: fileURLToPath(new URL('../../console/dist/', import.meta.url)),
  })

  // Listen before creating anything: a taken port must not swallow the demo keys (shown once).
  const server = createApiServer(app.fetch)
  const address = await listen(server)
  operator.persist()

  const lines = [
    `Admin engine on http://${urlHost(config.host)}:${address.port} (docs: /docs, pid ${process.pid}, ${storeNote})`,
    `Operator key: ${operator.describe}`,
    `Console: http://${urlHost(config.host)}:${address.port}/console (sign in with an admin key)`,
  ]
  const existing = await organizations.list(db, { limit: 1 })
  if (existing.data.length === 0) {
    const demo = await createOrganization(
      { db, clock: systemClock, actor: { type: 'system', id: 'bootstrap' }, requestId: null },
      { name: 'Demo organization' }
    )
    lines.push(
      `Demo organization: ${demo.organization.id} (default workspace ${demo.default_workspace.id})`,
      `Demo admin key (organization_admin, shown once): ${demo.admin_key.secret}`
    )
  } else {
    lines.push('Organizations exist already; create another with POST /v1/organizations.')
  }

  if (config.aggregationIntervalSeconds > 0) {
    lines.push(`Usage aggregation every ${config.aggregationIntervalSeconds} s`)
    startAggregationTimer(db, config.aggregationIntervalSeconds)
  }
  if (config.webhookDeliveryIntervalSeconds > 0) {
    lines.push(`Webhook deliveries every ${config.webhookDeliveryIntervalSeconds} s`)
    startDeliveryTimer(db, config.webhookDeliveryIntervalSeconds)
  }
  process.stdout.write(`${lines.join('\n')}\n`)
}

/** The local stand-in for the deliverer's one-minute schedule: one pass at a time. */
function startDeliveryTimer(db: Db, intervalSeconds: number): void {
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    runWebhookDeliveries({ db, clock: systemClock, urlPolicy: config.webhookUrls })
      .then((summary) => {
        if (summary.attempts > 0) logger.info('webhook deliveries', { summary })
      })
      .catch((error) => logger.error('webhook delivery run failed', { error }))
      .finally(() => {
        running = false
      })
  }, intervalSeconds * 1000)
  timer.unref()
}

/** The local stand-in for the EventBridge schedule: one pass at a time, every interval. */
function startAggregationTimer(db: Db, intervalSeconds: number): void {
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    runAggregation({ db, clock: systemClock })
      .then((summary) => {
        if (summary.events_aggregated > 0 || summary.alerts.length > 0) {
          logger.info('aggregation run', { summary })
        }
      })
      .catch((error) => logger.error('aggregation run failed', { error }))
      .finally(() => {
        running = false
      })
  }, intervalSeconds * 1000)
  timer.unref()
}

main().catch((error) => {
  const text =
    error instanceof StartError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error)
  process.stderr.write(`${text}\n`)
  void (store?.close() ?? Promise.resolve()).finally(() => process.exit(1))
})
