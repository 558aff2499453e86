/**
 * In-process reproduction of the V8 abort that killed the server under load (docs/runtime.md):
 * "Fatal error … unreachable code" in Deoptimizer::DoComputeBuiltinContinuation.
 *
 *   npx tsx bench/wasm-lazy-deopt.ts                        # every case on this runtime
 *   npx tsx bench/wasm-lazy-deopt.ts --node /usr/bin/node   # … on another Node binary (repeatable)
 *   npx tsx bench/wasm-lazy-deopt.ts --case minimal-direct  # only the cases named
 *   npx tsx bench/wasm-lazy-deopt.ts --cost [--node PATH]   # µs per decision, before/after
 *
 * Each case runs in a fresh child process with `--trace-deopt-verbose`; the table gives how it
 * ended, how many lazy deoptimizations it went through and how many of those landed on a
 * JS→wasm call that TurboFan had inlined (V8's "JS to Wasm builtin continuation" frame: the
 * one V8 before 13 cannot rebuild when the wasm export returns a reference). Exits 1 if a case
 * that should be safe everywhere aborted or reached such a frame.
 *
 * The trigger, reduced to a hand-assembled 48-byte wasm module: a hot function calls a wasm
 * export that returns `externref`, and reads a field of what it returns; JavaScript that runs
 * inside that call (an import, here; `JSON.parse` in cedar-wasm) generalizes the field type the
 * optimized caller depends on, so the caller is deoptimized lazily, at the inlined call.
 */
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { setFlagsFromString } from 'node:v8'

const REPO = fileURLToPath(new URL('../', import.meta.url))
const SCRIPT = fileURLToPath(import.meta.url)

export interface CaseInfo {
  name: string
  what: string
  /** Must never abort nor reach an inlined-call continuation, whatever the runtime. */
  safe: boolean
}

export const CASES: CaseInfo[] = [
  {
    name: 'minimal-direct',
    what: 'hand-made wasm export (externref → externref), called directly from a hot function',
    safe: false,
  },
  {
    name: 'minimal-i32',
    what: 'control: the same, but the export returns i32',
    safe: false,
  },
  {
    name: 'minimal-flag',
    what: 'minimal-direct after v8.setFlagsFromString("--no-turbo-inline-js-wasm-calls") at run time',
    safe: true,
  },
  {
    name: 'minimal-boundary',
    what: 'minimal-direct, the export called through behindCallBoundary (functions/authz/wasm-call-boundary.ts)',
    safe: true,
  },
  {
    name: 'minimal-engine',
    what: 'minimal-direct in a process that loaded functions/authz/cedar.ts (the flag as the engine sets it)',
    safe: true,
  },
  {
    name: 'cedar-direct',
    what: "the engine's former decide(): cedar-wasm's statefulIsAuthorized called directly, its answer read, full GCs between batches",
    safe: false,
  },
  {
    name: 'cedar-engine',
    what: "the project's decide() (functions/authz/engine.ts, through functions/authz/cedar.ts), same load",
    safe: true,
  },
]

export interface CaseResult {
  name: string
  node: string
  version: string
  outcome:
    | 'completed'
    | 'aborted: unreachable code in Deoptimizer::DoComputeBuiltinContinuation'
    | string
  calls: number
  lazyDeopts: number
  atInlinedWasmCall: number
  ms: number
}

/** Runs one case in a child process of `node` and reads how it ended from its output. */
export function runCase(name: string, node = process.execPath, rounds = 20): Promise<CaseResult> {
  const started = Date.now()
  const traceDir = mkdtempSync(join(tmpdir(), 'wasm-lazy-deopt-'))
  const tracePath = join(traceDir, 'trace.txt')
  const traceFd = openSync(tracePath, 'w')
  const child = spawn(
    node,
    [
      '--expose-gc',
      '--trace-deopt-verbose',
      '--import',
      'tsx',
      SCRIPT,
      '--child',
      name,
      String(rounds),
    ],
    // V8 writes its trace to stdout through C stdio, whose buffer a non-blocking pipe can lose at
    // exit: it goes to a file. The child's own report goes to fd 3.
    { cwd: REPO, stdio: ['ignore', traceFd, 'pipe', 'pipe'] }
  )
  let version = ''
  let calls = 0
  let tail = ''
  const onReport = (line: string) => {
    const done = /^REPRO (v\S+) completed (\d+)$/.exec(line)
    if (done) {
      version = done[1]!
      calls = Number(done[2])
    }
    const begun = /^REPRO (v\S+) begin$/.exec(line)
    if (begun) version = begun[1]!
  }
  child.stdio[3]!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) onReport(line)
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-8000)
  })
  // A run that hangs (it should not) must not hang its caller.
  const timer = setTimeout(() => child.kill('SIGKILL'), 180_000)
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      closeSync(traceFd)
      const trace = readFileSync(tracePath, 'utf8')
      rmSync(traceDir, { recursive: true, force: true })
      const lazyDeopts = count(trace, '(kind: deopt-lazy')
      const atInlinedWasmCall = count(trace, 'reading JS to Wasm builtin continuation frame')
      let outcome: string
      if (code === 0 && calls > 0) outcome = 'completed'
      else if (
        tail.includes('unreachable code') &&
        tail.includes('Deoptimizer::DoComputeBuiltinContinuation')
      ) {
        outcome = 'aborted: unreachable code in Deoptimizer::DoComputeBuiltinContinuation'
      } else
        outcome = `failed (exit ${code ?? signal}): ${tail.trim().split('\n').slice(-3).join(' ')}`
      resolve({
        name,
        node,
        version,
        outcome,
        calls,
        lazyDeopts,
        atInlinedWasmCall,
        ms: Date.now() - started,
      })
    })
  })
}

function count(text: string, marker: string): number {
  let n = 0
  for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + 1)) n++
  return n
}

// ----- The cases, each run in its own process ----------------------------------------------

/**
 * (module
 *   (import "m" "f" (func $f (param externref) (result R)))
 *   (func (export "g") (param externref) (result R) local.get 0 call $f))
 * with R = externref (0x6f) or i32 (0x7f).
 */
function passThroughModule(result: 0x6f | 0x7f): Uint8Array {
  return Uint8Array.of(
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version 1
    ...[0x01, 0x06, 0x01, 0x60, 0x01, 0x6f, 0x01, result], // type 0: (externref) → R
    ...[0x02, 0x07, 0x01, 0x01, 0x6d, 0x01, 0x66, 0x00, 0x00], // import m.f: func type 0
    ...[0x03, 0x02, 0x01, 0x00], // function 1: type 0
    ...[0x07, 0x05, 0x01, 0x01, 0x67, 0x00, 0x01], // export "g" = function 1
    ...[0x0a, 0x08, 0x01, 0x06, 0x00, 0x20, 0x00, 0x10, 0x00, 0x0b] // body: local.get 0, call 0
  )
}

/** The part of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
const Wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object
      Instance: new (module: object, imports: object) => { exports: Record<string, unknown> }
    }
  }
).WebAssembly

/** A class, not an object literal: V8 tracks the type of a field that a constructor sets. */
class Box {
  declare readonly inner: { value: number; other?: number }
  constructor(inner: { value: number; other?: number }) {
    this.inner = inner
  }
}

async function minimal(mode: 'direct' | 'i32' | 'flag' | 'boundary' | 'engine'): Promise<number> {
  if (mode === 'flag') setFlagsFromString('--no-turbo-inline-js-wasm-calls')
  if (mode === 'engine') await import('../functions/authz/cedar.js')
  const CALLS = 4_000_000
  const TRIGGER = 3_000_000
  let n = 0
  let last: Box | undefined
  // Until TRIGGER every Box holds one shape of `inner`, so the caller's optimized code relies on
  // that field's type; the one call at TRIGGER stores another shape there, inside the wasm call.
  const make = (value: number) => new Box(n === TRIGGER ? { other: 1, value } : { value })
  const imports =
    mode === 'i32'
      ? {
          f: (value: number) => {
            last = make(value)
            return 1
          },
        }
      : { f: make }
  const module = new Wasm.Module(passThroughModule(mode === 'i32' ? 0x7f : 0x6f))
  const exported = new Wasm.Instance(module, { m: imports }).exports.g as (value: number) => unknown
  const g =
    mode === 'boundary'
      ? (await import('../functions/authz/wasm-call-boundary.js')).behindCallBoundary(exported)
      : exported
  const read =
    mode === 'i32'
      ? (value: number) => (g(value) as number) + last!.inner.value
      : (value: number) => (g(value) as Box).inner.value
  let sum = 0
  for (; n < CALLS; n++) sum += read(1)
  if (sum < CALLS) throw new Error(`wrong sum ${sum}`)
  return CALLS
}

async function cedarDecisions(mode: 'direct' | 'engine') {
  const { adminRequest } = await import('../functions/authz/admin.js')
  const request = adminRequest(
    { id: 'adm_1', organizationId: 'org_1', orgRoles: ['organization_admin'] },
    'read_organization',
    { type: 'Organization', organizationId: 'org_1' },
    {
      organization: { id: 'org_1', suspended: false, sellsChatSeats: false },
      workspaceSuspended: false,
    }
  )
  let decide: (r: typeof request) => { decision: string }
  if (mode === 'engine') {
    decide = (await import('../functions/authz/engine.js')).decide
  } else {
    // What engine.ts did before: the export called directly, its answer read in the same function.
    const cedar = await import('@cedar-policy/cedar-wasm/nodejs')
    const { readPolicyFiles } = await import('../functions/authz/policy-files.js')
    const files = readPolicyFiles()
    if (cedar.preparseSchema('repro', files.schema).type !== 'success') throw new Error('schema')
    const policies = Object.values(files.policyFiles).join('\n')
    if (cedar.preparsePolicySet('repro', { staticPolicies: policies }).type !== 'success') {
      throw new Error('policies')
    }
    decide = (r) => {
      const answer = cedar.statefulIsAuthorized({
        principal: r.principal,
        action: { type: 'Action', id: r.action },
        resource: r.resource,
        context: r.context ?? {},
        entities: r.entities,
        preparsedPolicySetId: 'repro',
        preparsedSchemaName: 'repro',
        validateRequest: true,
      })
      if (answer.type === 'failure') throw new Error(answer.errors[0]?.message)
      const { decision, diagnostics } = answer.response
      return { decision, reasons: diagnostics.reason.map((id) => ({ id })) }
    }
  }
  return () => {
    if (decide(request).decision !== 'allow') throw new Error('expected allow')
  }
}

async function cedarCase(mode: 'direct' | 'engine', rounds: number): Promise<number> {
  const decideOnce = await cedarDecisions(mode)
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('run with --expose-gc')
  let calls = 0
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < 2000; i++, calls++) decideOnce()
    // A full GC between batches frees the maps of the answers (none is alive), so the next
    // answers get new maps whose field types V8 generalizes inside the wasm call: the same
    // thing a long-running server's GCs do.
    gc()
  }
  return calls
}

/** µs per decision (median of 5 × 20,000 after 20,000 to warm up), without tracing nor forced GCs. */
async function cost(mode: 'direct' | 'engine'): Promise<number> {
  const decideOnce = await cedarDecisions(mode)
  for (let i = 0; i < 20_000; i++) decideOnce()
  const samples: number[] = []
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint()
    for (let i = 0; i < 20_000; i++) decideOnce()
    samples.push(Number(process.hrtime.bigint() - started) / 20_000 / 1000)
  }
  return samples.sort((a, b) => a - b)[2]!
}

async function child(name: string, rounds: number): Promise<void> {
  const report = (line: string) => writeSync(3, `REPRO ${process.version} ${line}\n`)
  report('begin')
  let calls: number
  if (name === 'minimal-direct') calls = await minimal('direct')
  else if (name === 'minimal-i32') calls = await minimal('i32')
  else if (name === 'minimal-flag') calls = await minimal('flag')
  else if (name === 'minimal-boundary') calls = await minimal('boundary')
  else if (name === 'minimal-engine') calls = await minimal('engine')
  else if (name === 'cedar-direct') calls = await cedarCase('direct', rounds)
  else if (name === 'cedar-engine') calls = await cedarCase('engine', rounds)
  else throw new Error(`unknown case ${name}`)
  report(`completed ${calls}`)
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  if (args[0] === '--child') return child(args[1]!, Number(args[2]))
  if (args[0] === '--cost-child') {
    process.stdout.write(`${(await cost(args[1] as 'direct' | 'engine')).toFixed(1)}\n`)
    return
  }
  if (args[0] === '--cost') return costTable(args.slice(1))
  const nodes: string[] = []
  const names: string[] = []
  for (let i = 0; i < args.length; i += 2) {
    if (args[i] === '--node') nodes.push(args[i + 1]!)
    else if (args[i] === '--case') names.push(args[i + 1]!)
    else throw new Error(`usage: wasm-lazy-deopt.ts [--node PATH]... [--case NAME]...`)
  }
  if (nodes.length === 0) nodes.push(process.execPath)
  const cases = names.length > 0 ? CASES.filter((c) => names.includes(c.name)) : CASES
  const rows: string[] = [
    '| case | Node | outcome | calls | lazy deopts | … at an inlined JS→wasm call | s |',
    '|---|---|---|---|---|---|---|',
  ]
  let unsafe = 0
  for (const node of nodes) {
    for (const info of cases) {
      const result = await runCase(info.name, node)
      if (info.safe && (result.outcome !== 'completed' || result.atInlinedWasmCall > 0)) unsafe++
      rows.push(
        `| ${info.name} | ${result.version || node} | ${result.outcome} | ${result.calls} | ${result.lazyDeopts} | ${result.atInlinedWasmCall} | ${(result.ms / 1000).toFixed(1)} |`
      )
      process.stderr.write(`${rows.at(-1)}\n`)
    }
  }
  process.stdout.write(
    `${rows.join('\n')}\n\n${cases.map((c) => `- ${c.name}: ${c.what}`).join('\n')}\n`
  )
  if (unsafe > 0) {
    process.stderr.write(`${unsafe} case(s) that must be safe were not\n`)
    process.exitCode = 1
  }
}

/** The decision cost of the former pattern and of the engine, alternating, 3 processes each. */
async function costTable(args: string[]): Promise<void> {
  const node = args[0] === '--node' ? args[1]! : process.execPath
  const rows = ['| Node | case | µs per decision (3 processes) |', '|---|---|---|']
  const runs: Record<string, string[]> = { direct: [], engine: [] }
  let version = ''
  for (let i = 0; i < 3; i++) {
    for (const mode of ['direct', 'engine'] as const) {
      const run = spawnSync(node, ['--import', 'tsx', SCRIPT, '--cost-child', mode], {
        cwd: REPO,
        encoding: 'utf8',
      })
      if (run.status !== 0) throw new Error(`${mode}: ${run.stderr}`)
      runs[mode]!.push(run.stdout.trim())
    }
  }
  version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()
  for (const mode of ['direct', 'engine'] as const) {
    rows.push(`| ${version} | cedar-${mode} | ${runs[mode]!.join(', ')} |`)
  }
  process.stdout.write(`${rows.join('\n')}\n`)
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main().catch((error) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`)
    process.exit(1)
  })
}
