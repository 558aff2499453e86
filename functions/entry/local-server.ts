/**
 * `npm start`: the API on PORT over an embedded dynalite store persisted under DATA_DIR (or the
 * DynamoDB at DYNAMODB_ENDPOINT), with a demo organization created on first start.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createApp } from '../app/app.js'
import { OPERATOR_KEY_PATTERN, readConfig } from '../config.js'
import { runAggregation } from '../domain/aggregation.js'
import { createOrganization } from '../domain/organizations.js'
import { systemClock } from '../lib/clock.js'
import { logger } from '../lib/logger.js'
import { generateSecret } from '../lib/secrets.js'
import { createDocumentClient, ensureTable } from '../store/client.js'
import { Db } from '../store/db.js'
import { startEmbeddedStore } from '../store/embedded.js'
import { organizations } from '../store/organizations.js'
import { serveApi } from './node-server.js'

const config = readConfig()

function operatorKey(): { key: string; source: string } {
  if (config.operatorKey) {
    if (!OPERATOR_KEY_PATTERN.test(config.operatorKey)) {
      throw new Error('OPERATOR_KEY must look like op_<at least 16 characters of [A-Za-z0-9_-]>')
    }
    return { key: config.operatorKey, source: 'OPERATOR_KEY' }
  }
  // Locally only: generated once and kept beside the data so restarts keep working.
  const file = join(config.dataDir, 'operator-key')
  if (existsSync(file)) return { key: readFileSync(file, 'utf8').trim(), source: file }
  const key = generateSecret('operator')
  writeFileSync(file, `${key}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  return { key, source: `${file}, generated now` }
}

async function main() {
  mkdirSync(config.dataDir, { recursive: true })
  let endpoint = config.dynamodbEndpoint
  if (!endpoint) {
    const store = await startEmbeddedStore({ path: join(config.dataDir, 'dynamodb') })
    endpoint = store.endpoint
    process.once('SIGINT', () => void store.close().finally(() => process.exit(0)))
    process.once('SIGTERM', () => void store.close().finally(() => process.exit(0)))
  }
  const doc = createDocumentClient({ endpoint })
  await ensureTable(doc, config.tableName)
  const db = new Db(doc, config.tableName)
  const operator = operatorKey()
  const app = createApp({ db, clock: systemClock, operatorKey: operator.key })

  const lines = [`Operator key: ${operator.key}  (from ${operator.source})`]
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

  serveApi(app.fetch, { port: config.port }, (info) => {
    lines.unshift(`Admin engine on http://localhost:${info.port} (docs: /docs, store: ${endpoint})`)
    process.stdout.write(`${lines.join('\n')}\n`)
  })
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
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`
  )
  process.exit(1)
})
