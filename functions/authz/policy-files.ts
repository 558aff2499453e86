import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { policyDirectoryOverride } from '../config.js'

/**
 * Where the Cedar schema and policies live: the configured directory (POLICY_DIR, read by
 * config.ts: the Lambda bundle copies `policies/` next to the code and sets it), else the
 * repository's `policies/`. The engine loads them when it is first imported, before any
 * entry point could pass a setting down, so this asks config.ts itself.
 */
export function policyDirectory(override = policyDirectoryOverride()): string {
  return override ?? fileURLToPath(new URL('../../policies/', import.meta.url))
}

export interface PolicyFiles {
  schema: string
  /** Each `.cedar` file's text, by file name. */
  policyFiles: Record<string, string>
}

export function readPolicyFiles(dir = policyDirectory()): PolicyFiles {
  if (!existsSync(join(dir, 'schema.cedarschema'))) {
    throw new Error(`Cedar schema not found in ${dir} (set POLICY_DIR)`)
  }
  const policyFiles: Record<string, string> = {}
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith('.cedar')) policyFiles[name] = readFileSync(join(dir, name), 'utf8')
  }
  return { schema: readFileSync(join(dir, 'schema.cedarschema'), 'utf8'), policyFiles }
}
