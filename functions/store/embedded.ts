import { type ChildProcess, fork } from 'node:child_process'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { fileURLToPath, pathToFileURL } from 'node:url'
import dynalite from 'dynalite'

export interface EmbeddedStore {
  endpoint: string
  close(): Promise<void>
}

/**
 * dynalite 4 turns each Query/Scan into a stream over a level iterator and, when the stream ends
 * or is cut short at `Limit`, closes it by calling `iterator.return()`. abstract-level 3 iterators
 * have no `return()` (they have `close()`), so no iterator was ever closed: each one stayed in its
 * database's open-resource set with its native LevelDB iterator and up to 1,000 prefetched entries
 * (≈ 20 KiB per list request, RSS 60 → 427 MiB in a soak). Giving the iterators the `return()`
 * dynalite calls makes both the natural end and the early stop release them. Patched where
 * dynalite's own copies of abstract-level live (persisted: level → classic-level; in memory:
 * memory-level), so it holds whichever copy npm installs.
 */
let iteratorsPatched = false
export function closeIteratorsWhenDynaliteStreamsEnd(): void {
  if (iteratorsPatched) return
  const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'))
  const backends = [
    createRequire(createRequire(fromDynalite.resolve('level')).resolve('classic-level')),
    createRequire(fromDynalite.resolve('memory-level')),
  ]
  for (const fromBackend of backends) {
    const { AbstractIterator, AbstractKeyIterator, AbstractValueIterator } = fromBackend(
      'abstract-level'
    ) as Record<string, { prototype: object }>
    for (const iterator of [AbstractIterator, AbstractKeyIterator, AbstractValueIterator]) {
      const proto = iterator?.prototype as { close?: unknown; return?: unknown } | undefined
      if (!proto || typeof proto.close !== 'function') {
        throw new Error('abstract-level iterators changed shape: re-check the dynalite leak fix')
      }
      if (typeof proto.return !== 'function') {
        Object.defineProperty(proto, 'return', {
          configurable: true,
          writable: true,
          value(this: { close(): Promise<void> }) {
            return this.close()
          },
        })
      }
    }
  }
  iteratorsPatched = true
}

/**
 * Starts dynalite, the embedded DynamoDB-compatible server, in this process: persisted under
 * `path` when given, in memory otherwise; on `port` (0 = any free port).
 */
export async function startEmbeddedStore(
  options: { path?: string; port?: number } = {}
): Promise<EmbeddedStore> {
  closeIteratorsWhenDynaliteStreamsEnd()
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

export interface EmbeddedStoreProcess extends EmbeddedStore {
  pid: number
  /** Synchronous last resort for `process.on('exit')`. */
  kill(): void
  /** Resolves, with what happened, only if the process ends without `close()` being called. */
  unexpectedExit: Promise<string>
}

/** Messages of functions/entry/embedded-store.ts to its parent. */
export type EmbeddedChildMessage =
  | { type: 'ready'; endpoint: string }
  | { type: 'error'; message: string }

/**
 * The embedded store in its own process (forked, IPC channel), so that it does not share the
 * API's event loop and its memory can be measured on its own. The child exits when the channel
 * closes, i.e. also when this process dies without cleaning up.
 */
export async function startEmbeddedStoreProcess(
  options: { path?: string } = {}
): Promise<EmbeddedStoreProcess> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('../entry/embedded-store.ts', import.meta.url)),
    options.path ? [options.path] : [],
    {
      // The child is TypeScript whatever runs the parent (tsx, vitest): load it with tsx, and not
      // with the parent's flags (V8 options for the API are no business of the store). Its
      // environment is this process's (fork's default).
      execArgv: ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }
  )
  let closing = false
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code))
  )
  const unexpectedExit = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      if (!closing) resolve(`exited with ${code ?? signal}`)
    })
  )
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: EmbeddedChildMessage) => {
      if (message.type === 'ready') resolve(message.endpoint)
      else reject(new Error(`the embedded store did not start: ${message.message}`))
    })
    void exited.then((code) => reject(new Error(`the embedded store exited with ${code}`)))
  })
  child.unref()
  ;(child.channel as { unref?: () => void } | undefined)?.unref?.()
  return {
    endpoint,
    pid: child.pid!,
    unexpectedExit,
    kill: () => {
      closing = true
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    },
    close: async () => {
      closing = true
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}
