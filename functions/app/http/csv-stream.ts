import type { Context } from 'hono'
import { csvLines } from '../../lib/csv.js'
import type { AppEnv } from './env.js'

/**
 * A CSV download streamed chunk by chunk: the header row, then each chunk of rows as the
 * consumer asks for it (ReadableStream pull), so a long export holds one chunk in memory and the
 * store is read only as fast as the client downloads. The caller reads the first chunk before
 * calling this, so bad requests still get an error response, not a 200 with a cut-off file;
 * a failure after that aborts the stream (the client sees an incomplete download, never a file
 * that silently ends early).
 */
export function streamCsv(
  c: Context<AppEnv>,
  options: {
    filename: string
    header: readonly string[]
    first: ReadonlyArray<readonly unknown[]>
    rest: AsyncIterator<ReadonlyArray<readonly unknown[]>>
    headers?: Record<string, string>
  }
): Response {
  const encoder = new TextEncoder()
  const log = c.get('log')
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(csvLines([options.header, ...options.first])))
    },
    async pull(controller) {
      try {
        const next = await options.rest.next()
        if (next.done) controller.close()
        else controller.enqueue(encoder.encode(csvLines(next.value)))
      } catch (error) {
        log.error('CSV export failed while streaming', { error: error as Error })
        controller.error(error)
      }
    },
    async cancel() {
      await options.rest.return?.(undefined)
    },
  })
  return c.body(body, 200, {
    ...options.headers,
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="${options.filename}"`,
  })
}
