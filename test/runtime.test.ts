/**
 * One runtime everywhere (docs/runtime.md): the tests run on the Node that package.json pins and
 * installs, and the engine's calls into cedar-wasm cannot hit the V8 abort that killed the server
 * under load (a lazy deoptimization at an inlined JS→wasm call that returns a reference).
 */
import { readFileSync } from 'node:fs'
import { types } from 'node:util'
import { describe, expect, it } from 'vitest'
import { runCase } from '../bench/wasm-lazy-deopt.js'
import { loadCedar } from '../functions/authz/cedar.js'
import { cedarInstance } from '../functions/authz/engine.js'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  engines: { node: string }
  optionalDependencies: Record<string, string>
}

describe('runtime', () => {
  it('runs the tests on the Node that package.json installs and its engines field names', () => {
    const pinned = pkg.optionalDependencies[`node-${process.platform}-${process.arch}`]
    expect(pinned, `no Node package for ${process.platform}-${process.arch}`).toBeDefined()
    expect(process.version).toBe(`v${pinned}`)
    expect(pkg.engines.node).toBe(`^${pinned}`)
    // Child processes the tests and benchmarks start (local server, Lambda runner) use this binary.
    expect(process.execPath).toMatch(/node_modules\/node-[a-z0-9]+-[a-z0-9]+\/bin\/node$/)
  })
})

describe('calls into cedar-wasm', () => {
  it('go through the call boundary, every one of them, in every instance the engine may use', () => {
    for (const instance of [loadCedar(), cedarInstance()]) {
      const exported = Object.entries(instance).filter(([, value]) => typeof value === 'function')
      expect(exported.length).toBeGreaterThanOrEqual(8)
      for (const [name, fn] of exported) expect(types.isProxy(fn), name).toBe(true)
    }
  })

  // Each case is a child process on this runtime with --trace-deopt-verbose (bench/wasm-lazy-deopt.ts).
  it('can reach a lazy deopt at an inlined JS→wasm call on this runtime when called directly', async () => {
    const direct = await runCase('minimal-direct')
    // The control: without the avoidance, V8 here inlines the call and deoptimizes at it (which
    // Node 20 and 22 cannot survive); so the cases below can tell the avoidance works.
    expect(direct.atInlinedWasmCall).toBeGreaterThan(0)
  })

  for (const name of ['minimal-boundary', 'minimal-engine', 'minimal-flag']) {
    it(`never lazily deoptimize at an inlined JS→wasm call: ${name}`, async () => {
      const result = await runCase(name)
      expect(result.outcome).toBe('completed')
      expect(result.lazyDeopts).toBeGreaterThan(0) // the deopt still happens, at a safe place
      expect(result.atInlinedWasmCall).toBe(0)
    })
  }

  it('never lazily deoptimize decide() at an inlined JS→wasm call, where the former code did', async () => {
    // Cedar decisions with a full GC between batches (what a server's GCs do under load).
    const [former, engine] = await Promise.all([
      runCase('cedar-direct', process.execPath, 20),
      runCase('cedar-engine', process.execPath, 20),
    ])
    expect(former.atInlinedWasmCall).toBeGreaterThan(0) // would abort Node 20 and 22
    expect(engine.outcome).toBe('completed')
    expect(engine.calls).toBe(40_000)
    expect(engine.lazyDeopts).toBeGreaterThan(0)
    expect(engine.atInlinedWasmCall).toBe(0)
  }, 120_000)
})
