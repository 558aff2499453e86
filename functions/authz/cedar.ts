/**
 * cedar-wasm as the engine calls it. Two things hold for every instance handed out here:
 * - every export is behind a call boundary, with V8's JS→wasm call inlining off, so a lazy
 *   deoptimization can never land on an inlined wasm call (the abort in docs/runtime.md);
 * - each `loadCedar()` is a new, independent instance with fresh wasm memory, so the engine can
 *   replace one that trapped (docs/authorization.md, "Limits on policy text and context").
 * Load Cedar from here, not from the package.
 */
import './wasm-flags.js'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { compileFunction } from 'node:vm'
import type * as CedarWasm from '@cedar-policy/cedar-wasm/nodejs'
import { behindCallBoundary } from './wasm-call-boundary.js'

export type {
  AuthorizationAnswer,
  CedarValueJson,
  DetailedError,
  EntityJson,
} from '@cedar-policy/cedar-wasm/nodejs'

export type Cedar = typeof CedarWasm

/** cedar-wasm's nodejs build: a CommonJS glue file that instantiates the .wasm beside it. */
const GLUE_FILE = 'cedar_wasm.js'
const WASM_FILE = 'cedar_wasm_bg.wasm'

/** This module's URL; in a CommonJS bundle (a variant the bundle benchmark measures) import.meta is empty. */
const HERE: string = import.meta.url ?? pathToFileURL(__filename).href

/**
 * Beside this module (the Lambda bundle ships both files next to it, infra/bundling.ts), else
 * the installed package.
 */
function glueFile(): string {
  const beside = fileURLToPath(new URL(`./${GLUE_FILE}`, HERE))
  if (existsSync(beside)) return beside
  return createRequire(HERE).resolve('@cedar-policy/cedar-wasm/nodejs')
}

type GlueFunction = (
  exports: object,
  require: NodeJS.Require,
  module: { exports: object },
  filename: string,
  dirname: string
) => void

let glue: { file: string; run: GlueFunction } | undefined

/**
 * A new, independent cedar-wasm instance, every function behind the call boundary. The glue
 * keeps its wasm instance in a module-level variable and has no way to replace it, so after a
 * trap (whose stack pointer and heap are left as the trap found them) the only way to a working
 * engine is to evaluate the glue again: its source is compiled once and run once per instance,
 * each run instantiating the wasm with fresh memory. `require` would return the cached, broken
 * instance.
 */
export function loadCedar(): Cedar {
  if (!glue) {
    const file = glueFile()
    if (!existsSync(join(dirname(file), WASM_FILE))) {
      throw new Error(`${WASM_FILE} not found beside ${file}`)
    }
    const run = compileFunction(
      readFileSync(file, 'utf8'),
      ['exports', 'require', 'module', '__filename', '__dirname'],
      { filename: file }
    ) as GlueFunction
    glue = { file, run }
  }
  const module: { exports: Record<string, unknown> } = { exports: {} }
  glue.run(module.exports, createRequire(glue.file), module, glue.file, dirname(glue.file))
  const instance: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(module.exports)) {
    instance[name] =
      typeof value === 'function'
        ? behindCallBoundary(value as (...args: never[]) => unknown)
        : value
  }
  return instance as Cedar
}
