import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { transformSync } from 'esbuild'
import { describe, expect, it } from 'vitest'

/**
 * Configuration is read in one place per process (docs/configuration.md): the entry points in
 * functions/entry/ pass `process.env` to functions/config.ts and hand the typed result down.
 * Any other file under functions/ that reads the environment fails here.
 */
const REPO = fileURLToPath(new URL('../', import.meta.url))

/** Where reading the environment belongs. */
const COMPOSITION_ROOTS = [/^functions\/entry\//, /^functions\/config\.ts$/]

/**
 * Variables a file below the entry points may still read, and why. Anything else there, and
 * any other way of reaching `process.env` (a whole-object read, destructuring), fails.
 */
const EXCEPTIONS: Record<string, Record<string, string>> = {
  'functions/lib/logger.ts': {
    POWERTOOLS_SERVICE_NAME:
      'Powertools reads it itself; the logger only gives it a default other than "service_undefined", at import, before any entry point runs',
  },
}

/** `process.env` reads in a module's code (comments and types removed by esbuild first). */
function environmentReads(source: string): { variables: string[]; other: string[] } {
  const code = transformSync(source, { loader: 'ts', legalComments: 'none' }).code
  const variables: string[] = []
  const other: string[] = []
  const processEnv = /\bprocess\s*(?:\?\.|\.)\s*env\b|\bprocess\s*(?:\?\.)?\[\s*['"`]env['"`]\s*\]/g
  for (const match of code.matchAll(processEnv)) {
    const after = code.slice(match.index + match[0].length)
    const named =
      /^\s*(?:\?\.|\.)\s*([A-Za-z_$][\w$]*)|^\s*(?:\?\.)?\[\s*['"`]([^'"`]+)['"`]\s*\]/.exec(after)
    const name = named?.[1] ?? named?.[2]
    if (name && !/^\s*=(?!=)/.test(after.slice(named![0].length))) variables.push(name)
    else if (name) other.push(`${match[0]}.${name} =`)
    else other.push(`${match[0]} (the whole object)`)
  }
  // `import { env } from 'node:process'` and `const { env } = process` reach it too.
  for (const match of code.matchAll(
    /\bimport\s*(?:\*\s*as\s+\w+|\{[^}]*\benv\b[^}]*\})\s*from\s*['"](?:node:)?process['"]/g
  ))
    other.push(match[0])
  for (const match of code.matchAll(/\{[^{}]*\benv\b[^{}]*\}\s*=\s*(?:globalThis\.)?process\b/g))
    other.push(match[0])
  return { variables, other }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return /\.(ts|mts|cts|js|mjs|cjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')
      ? [path]
      : []
  })
}

describe('environmentReads', () => {
  it('finds each way of reading the environment, and nothing in comments or types', () => {
    expect(environmentReads('const a = process.env.TABLE_NAME').variables).toEqual(['TABLE_NAME'])
    expect(environmentReads("const a = process.env['TABLE_NAME']").variables).toEqual([
      'TABLE_NAME',
    ])
    expect(environmentReads('const a = process?.env?.X').variables).toEqual(['X'])
    expect(environmentReads('function f(e = process.env) { return e }').other).toHaveLength(1)
    expect(environmentReads('const { env } = process').other).toHaveLength(1)
    expect(environmentReads("import { env } from 'node:process'\nenv.X").other).toHaveLength(1)
    expect(environmentReads("import process from 'process'\nprocess.env.X").variables).toEqual([
      'X',
    ])
    expect(environmentReads('process.env.X = "1"').other).toHaveLength(1)
    const quiet = environmentReads(
      '// reads process.env.X\n/** process.env */\ntype T = NodeJS.ProcessEnv\nexport const x: T = {}'
    )
    expect(quiet).toEqual({ variables: [], other: [] })
  })
})

describe('configuration is read only by the entry points and functions/config.ts', () => {
  const files = sourceFiles(join(REPO, 'functions')).map((path) => ({
    path: relative(REPO, path).split('\\').join('/'),
    reads: environmentReads(readFileSync(path, 'utf8')),
  }))

  it('reads the source files it checks', () => {
    expect(files.length).toBeGreaterThan(50)
    const roots = files.filter((file) => COMPOSITION_ROOTS.some((root) => root.test(file.path)))
    // The entry points do read it: the check would notice if reading were no longer seen.
    const apiEntry = roots.find((file) => file.path === 'functions/entry/api-lambda.ts')
    expect(apiEntry?.reads.other.length).toBeGreaterThan(0)
  })

  it('no other file under functions/ reads process.env', () => {
    const offences: string[] = []
    for (const file of files) {
      if (COMPOSITION_ROOTS.some((root) => root.test(file.path))) continue
      const allowed = EXCEPTIONS[file.path] ?? {}
      for (const read of file.reads.other) offences.push(`${file.path}: ${read}`)
      for (const name of file.reads.variables) {
        if (!(name in allowed)) offences.push(`${file.path}: process.env.${name}`)
      }
    }
    expect(offences, 'pass the setting down from functions/config.ts instead').toEqual([])
  })

  it('each exception is still needed', () => {
    for (const [path, variables] of Object.entries(EXCEPTIONS)) {
      const file = files.find((candidate) => candidate.path === path)
      for (const name of Object.keys(variables)) {
        expect(
          file?.reads.variables,
          `${path} no longer reads ${name}: drop the exception`
        ).toContain(name)
      }
    }
  })
})
