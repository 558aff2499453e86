/**
 * The embedded store's own process (forked by `startEmbeddedStoreProcess`): dynalite on a free
 * port of 127.0.0.1, persisted under the directory given as its one argument (in memory
 * without one). It reports its endpoint over IPC and stops when told to (SIGTERM/SIGINT) or when
 * its parent goes away. Its environment is its parent's.
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb'
import { type EmbeddedChildMessage, startEmbeddedStore } from '../store/embedded.js'

// The child's only SDK client is its start-up probe: no warning about the Node version for it
// (read by the SDK itself when the client is made).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

function send(message: EmbeddedChildMessage): void {
  process.send?.(message)
}

async function main() {
  if (!process.send) throw new Error('embedded-store.ts is started by startEmbeddedStoreProcess()')
  const path = process.argv[2] || undefined
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
