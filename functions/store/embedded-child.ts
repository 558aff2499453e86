/**
 * The embedded store's own process (forked by `startEmbeddedStoreProcess`): dynalite on a free
 * port of 127.0.0.1, persisted under EMBEDDED_STORE_PATH (in memory when empty). It reports its
 * endpoint over IPC and stops when told to (SIGTERM/SIGINT) or when its parent goes away.
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb'
import { type EmbeddedChildMessage, startEmbeddedStore } from './embedded.js'

function send(message: EmbeddedChildMessage): void {
  process.send?.(message)
}

async function main() {
  if (!process.send) throw new Error('embedded-child.ts is started by startEmbeddedStoreProcess()')
  const path = process.env.EMBEDDED_STORE_PATH || undefined
  // dynalite throws this out of a request handler when LevelDB could not open the directory.
  process.on('uncaughtException', (error: Error & { code?: string }) => {
    const message =
      error.code === 'LEVEL_DATABASE_NOT_OPEN'
        ? `LevelDB could not open ${path} (is another process using it? LevelDB keeps a LOCK file there)`
        : (error.stack ?? error.message)
    send({ type: 'error', message })
    process.exit(1)
  })
  const store = await startEmbeddedStore({ path })
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    // dynalite waits for open requests; do not let a stuck client keep the LevelDB LOCK forever.
    setTimeout(() => process.exit(0), 5_000).unref()
    store.close().finally(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  // Ctrl-C reaches the whole process group: the parent stops this process once it is done.
  process.on('SIGINT', () => {})
  process.on('disconnect', stop)
  // LevelDB opens lazily: one request now turns "the directory is locked by another process"
  // into a start-up error instead of a 500 on the API's first request.
  const probe = new DynamoDBClient({
    endpoint: store.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  })
  try {
    await probe.send(new ListTablesCommand({}))
  } finally {
    probe.destroy()
  }
  send({ type: 'ready', endpoint: store.endpoint })
}

main().catch((error) => {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) })
  process.exit(1)
})
