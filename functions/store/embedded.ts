import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import dynalite from 'dynalite'

export interface EmbeddedStore {
  endpoint: string
  close(): Promise<void>
}

/**
 * Starts dynalite, the embedded DynamoDB-compatible server: persisted under `path` when given,
 * in memory otherwise; on `port` (0 = any free port).
 */
export async function startEmbeddedStore(
  options: { path?: string; port?: number } = {}
): Promise<EmbeddedStore> {
  const server: Server = dynalite({
    ...(options.path ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve()))
      ),
  }
}
