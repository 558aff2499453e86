/**
 * `npm run bench`: runs every suite in bench/suites (or those named on the command line) and
 * prints one table per suite. Each suite measures against a baseline taken in the same run,
 * because absolute times on shared machines are noisy.
 *
 *   npm run bench                 # all suites
 *   npm run bench -- decisions    # suites whose file name contains "decisions"
 */
import { readdirSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath, pathToFileURL } from 'node:url'

export interface BenchTable {
  title: string
  columns: string[]
  rows: (string | number)[][]
  notes?: string[]
}

export interface BenchSuite {
  name: string
  run(): Promise<BenchTable[]>
}

function printTable(table: BenchTable): void {
  const lines = [`### ${table.title}`, '', `| ${table.columns.join(' | ')} |`]
  lines.push(`|${table.columns.map(() => '---').join('|')}|`)
  for (const row of table.rows) lines.push(`| ${row.join(' | ')} |`)
  for (const note of table.notes ?? []) lines.push('', note)
  process.stdout.write(`${lines.join('\n')}\n\n`)
}

async function main() {
  // Request logs of the in-process app (and of servers the suites start) would drown the tables.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT'
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  const filters = process.argv.slice(2)
  const dir = fileURLToPath(new URL('./suites/', import.meta.url))
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.ts'))
    .filter((name) => filters.length === 0 || filters.some((filter) => name.includes(filter)))
    .sort()
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  process.stdout.write(
    `Machine: ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}\n\n`
  )
  for (const file of files) {
    const suite = (await import(pathToFileURL(`${dir}${file}`).href)).default as BenchSuite
    process.stdout.write(`## ${suite.name}\n\n`)
    for (const table of await suite.run()) printTable(table)
  }
}

main().catch((error) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`
  )
  process.exit(1)
})
