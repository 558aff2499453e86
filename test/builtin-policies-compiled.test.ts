import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ADMIN_ACTIONS } from '../functions/authz/admin.js'
import {
  type Builtins,
  COMPILED_BUILTINS_FILE,
  compileBuiltinsInto,
  deriveBuiltins,
  loadBuiltins,
} from '../functions/authz/builtins.js'
import { type Cedar, loadCedar } from '../functions/authz/cedar.js'
import { builtinPolicies, schemaJson, schemaProductActions } from '../functions/authz/engine.js'
import { policyDirectory, readPolicyFiles } from '../functions/authz/policy-files.js'
import { assetExtras } from '../infra/bundling.js'

/**
 * The built-in policies' ids, descriptions, actions and schema JSON are computed when the
 * Lambda asset is built (infra/bundling.ts runs infra/compile-policies.ts beside the bundle),
 * so a cold start does not ask Cedar for them. These tests hold that artefact to the policy
 * files: built by the real build step, it equals what Cedar derives from policies/ now, and a
 * compiled form that does not match the files beside it is never used.
 */
const cedar = loadCedar()
const work = mkdtempSync(join(tmpdir(), 'compiled-builtins-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** A Cedar that fails the test if anything asks it to parse (the compiled form must suffice). */
const noCedar = (): Cedar => {
  throw new Error(
    'Cedar was asked to derive the built-ins although a matching compiled form exists'
  )
}

/** Runs the asset build's extra step (wasm, policies, compiled policies) into a fresh directory. */
function buildAssetExtras(): string {
  const dir = mkdtempSync(join(work, 'asset-'))
  const run = spawnSync('bash', ['-c', assetExtras(dir).join(' && ')], { encoding: 'utf8' })
  expect(run.status, run.stderr).toBe(0)
  return join(dir, 'policies')
}

describe('compiled built-in policies', () => {
  const built = buildAssetExtras()
  const compiled = JSON.parse(readFileSync(join(built, COMPILED_BUILTINS_FILE), 'utf8')) as Builtins

  it('are what Cedar derives from policies/ (the build step never ships a stale artefact)', () => {
    expect(compiled).toEqual(deriveBuiltins(cedar, readPolicyFiles(policyDirectory())))
    // And what the engine serves in this process (derived from the files, no compiled form).
    expect(compiled.policies).toEqual(builtinPolicies)
    expect(compiled.schemaJson).toEqual(schemaJson)
    expect(compiled.productActions).toEqual(schemaProductActions)
    expect(compiled.policies.length).toBeGreaterThan(10)
    expect(compiled.productActions).toContain('use_chat')
  })

  it('are used at start without asking Cedar when they match the files beside them', () => {
    const loaded = loadBuiltins(built, noCedar)
    expect(loaded.derived).toBe(false)
    expect(loaded.builtins).toEqual(compiled)
  })

  it('are ignored once a policy file beside them changed: the engine derives from the files', () => {
    const dir = mkdtempSync(join(work, 'edited-'))
    cpSync(built, dir, { recursive: true })
    const file = join(dir, 'product-roles.cedar')
    const policy = compiled.policies.find((p) => p.id === 'ws-dev')!
    const text = readFileSync(file, 'utf8')
    expect(text).toContain(policy.description)
    writeFileSync(file, text.replace(policy.description, 'Edited after the build'))

    expect(() => loadBuiltins(dir, noCedar)).toThrow(/asked to derive/)
    const loaded = loadBuiltins(dir, () => cedar)
    expect(loaded.derived).toBe(true)
    expect(loaded.builtins.policies.find((p) => p.id === 'ws-dev')?.description).toBe(
      'Edited after the build'
    )
  })

  it('carry the fast path plan, and a file of an older layout is derived anew', () => {
    const chat = compiled.fastPath.pairs['Member/use_chat']!
    expect(chat.policies).toContain('forbid-no-chat-seat')
    expect(chat.policies).not.toContain('forbid-no-code-seat')
    expect(chat.actionEntities).toBe(false)
    // Every product action for members and API keys, every Admin action for admin keys.
    const adminActions = Object.keys(ADMIN_ACTIONS)
    expect(Object.keys(compiled.fastPath.pairs).sort()).toEqual(
      [
        ...compiled.productActions.flatMap((a) => [`Member/${a}`, `ApiKey/${a}`]),
        ...adminActions.map((a) => `AdminKey/${a}`),
      ].sort()
    )
    const listWorkspaces = compiled.fastPath.pairs['AdminKey/read_workspace']!
    expect(listWorkspaces.policies.length).toBeGreaterThan(0)
    expect(listWorkspaces.policies).not.toContain('forbid-no-chat-seat')

    const dir = mkdtempSync(join(work, 'older-'))
    cpSync(built, dir, { recursive: true })
    const { fastPath: _missing, ...older } = { ...compiled, format: compiled.format - 1 }
    writeFileSync(join(dir, COMPILED_BUILTINS_FILE), JSON.stringify(older))
    expect(() => loadBuiltins(dir, noCedar)).toThrow(/asked to derive/)
    expect(loadBuiltins(dir, () => cedar).builtins).toEqual(compiled)
  })

  it('are derived from the files when there is no compiled form (a checkout)', () => {
    const loaded = loadBuiltins(policyDirectory(), () => cedar)
    expect(loaded.derived).toBe(true)
    expect(loaded.builtins).toEqual(compiled)
  })

  it('refuse, at build time, policies that do not validate strictly against the schema', () => {
    const dir = mkdtempSync(join(work, 'invalid-'))
    cpSync(policyDirectory(), dir, { recursive: true })
    writeFileSync(
      join(dir, 'zz-invalid.cedar'),
      '@id("typo")\n@description("no such attribute")\npermit (principal, action, resource) when { principal.no_such_attribute };\n'
    )
    expect(() => compileBuiltinsInto(dir, cedar)).toThrow(/do not validate[\s\S]*typo/)
  })
})
