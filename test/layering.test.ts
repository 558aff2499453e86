// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the synthetic sources below are TypeScript text
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  type AllowedViolation,
  checkLayering,
  keyPrefixes,
  type Rule,
  readSources,
  resolveSpecifier,
  scanLiterals,
  scanSource,
} from './helpers/layering.js'

const ROOT = join(import.meta.dirname, '..')
const KEYS_FILE = 'functions/store/keys.ts'

/**
 * The layering of README "Where things are" and /work/shared/engineering.md: data flows one
 * way; routes know HTTP, services the Admin model, the store DynamoDB, authz Cedar. Places are
 * folder prefixes (ending in '/') or exact files.
 */
function rules(prefixes: readonly string[]): Rule[] {
  return [
    {
      id: 'hono-in-http-layer',
      kind: 'import',
      packages: ['hono', '@hono/*'],
      allowedIn: ['functions/app/', 'functions/entry/'],
      why: 'nothing below the routes imports Hono; services are plain functions called by routes',
    },
    {
      id: 'cedar-in-authz',
      kind: 'import',
      packages: ['@cedar-policy/*'],
      allowedIn: ['functions/authz/'],
      why: 'Cedar is called only in functions/authz',
    },
    {
      id: 'cedar-json-in-authz',
      kind: 'code',
      what: "Cedar's JSON entity format",
      pattern: /\b__extn\b/,
      allowedIn: ['functions/authz/'],
      why: "Cedar's entity and extension format is built only in functions/authz",
    },
    {
      id: 'aws-sdk-in-adapters',
      kind: 'import',
      packages: ['@aws-sdk/*'],
      // lib/alert-bus.ts is the EventBridge client for budget alerts; entry/ reads the
      // operator secret from Secrets Manager at cold start (lambda-bootstrap.ts).
      allowedIn: ['functions/store/', 'functions/entry/', 'functions/lib/alert-bus.ts'],
      why: 'services see no SDK types; the SDK lives in the store and the Lambda adapters',
    },
    {
      id: 'no-zod-below-http',
      kind: 'import',
      packages: ['zod', '@hono/zod-openapi'],
      forbiddenIn: [
        'functions/domain/',
        'functions/usage/',
        'functions/authz/',
        'functions/store/',
      ],
      why: 'zod schemas check requests at the HTTP edge; the domain and the store take typed values',
    },
    {
      id: 'key-builders-in-store',
      kind: 'import',
      modules: [KEYS_FILE],
      allowedIn: ['functions/store/'],
      why: 'nothing outside the store builds a DynamoDB key; ask a store repository instead',
    },
    {
      id: 'key-prefixes-in-store',
      kind: 'literal',
      what: 'a DynamoDB key prefix',
      prefixes,
      allowedIn: ['functions/store/'],
      why: `keys are written once, in ${KEYS_FILE} (docs/access-patterns.md)`,
    },
    {
      id: 'http-layer-on-top',
      kind: 'import',
      modules: ['functions/app/', 'functions/entry/'],
      allowedIn: ['functions/app/', 'functions/entry/'],
      why: 'data flows one way: the domain, authz, store and lib never import the HTTP layer or an entry point',
    },
  ]
}

/**
 * Violations in today's tree, each with the work that removes it. An entry that no longer
 * matches anything fails the test, so the list only shrinks.
 */
const ALLOWED: AllowedViolation[] = []

describe('layering of functions/', () => {
  const sources = readSources(ROOT, 'functions')
  const prefixes = keyPrefixes(readFileSync(join(ROOT, KEYS_FILE), 'utf8'))

  it('finds the source files by walking the folders, and the key prefixes in the key builders', () => {
    expect(sources.length).toBeGreaterThan(50)
    expect(sources.map((s) => s.path)).toContain(KEYS_FILE)
    expect(prefixes).toEqual(expect.arrayContaining(['ORG#', 'WS#', 'MEM#', 'UEV#', 'USAGE#']))
    expect(prefixes.every((p) => /^[A-Z][A-Z0-9_]*#$/.test(p))).toBe(true)
  })

  it('every file follows the import rules', () => {
    const { violations, unusedAllowances } = checkLayering(sources, rules(prefixes), ALLOWED)
    expect(violations.map((v) => v.message)).toEqual([])
    expect(
      unusedAllowances.map(
        (a) => `allow-list entry no longer needed, remove it: ${a.rule} ${a.file}`
      )
    ).toEqual([])
  })
})

describe('the rule checker', () => {
  const table = rules(['ORG#', 'WS#', 'S#'])
  const check = (path: string, text: string, allowed: AllowedViolation[] = []) =>
    checkLayering([{ path, text }], table, allowed)
  const ruleIds = (path: string, text: string) => check(path, text).violations.map((v) => v.rule)

  // One synthetic file per rule that breaks it, and the same import where it is allowed.
  const cases: { rule: string; bad: [string, string]; fine: [string, string] }[] = [
    {
      rule: 'hono-in-http-layer',
      bad: ['functions/domain/x.ts', "import type { Context } from 'hono'"],
      fine: ['functions/app/routes/x.ts', "import type { Context } from 'hono'"],
    },
    {
      rule: 'hono-in-http-layer',
      bad: ['functions/usage/x.ts', "import type { Context } from 'hono'"],
      fine: ['functions/entry/x.ts', "import { serve } from '@hono/node-server'"],
    },
    {
      rule: 'hono-in-http-layer',
      bad: ['functions/store/x.ts', "export { HTTPException } from 'hono/http-exception'"],
      fine: ['functions/store/x.ts', "import { x } from 'honorific'"],
    },
    {
      rule: 'cedar-in-authz',
      bad: [
        'functions/domain/x.ts',
        "const cedar = await import('@cedar-policy/cedar-wasm/nodejs')",
      ],
      fine: ['functions/authz/x.ts', "import * as cedar from '@cedar-policy/cedar-wasm/nodejs'"],
    },
    {
      rule: 'cedar-json-in-authz',
      bad: ['functions/domain/x.ts', "const now = { __extn: { fn: 'datetime', arg } }"],
      fine: ['functions/domain/x.ts', "// Cedar's __extn is built in authz\nconst s = '__extn'"],
    },
    {
      rule: 'aws-sdk-in-adapters',
      bad: [
        'functions/lib/secrets.ts',
        "import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'",
      ],
      fine: [
        'functions/lib/alert-bus.ts',
        "import { EventBridgeClient } from '@aws-sdk/client-eventbridge'",
      ],
    },
    {
      rule: 'aws-sdk-in-adapters',
      bad: [
        'functions/domain/x.ts',
        "import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb'",
      ],
      fine: [
        'functions/store/x.ts',
        "import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'",
      ],
    },
    {
      rule: 'no-zod-below-http',
      bad: ['functions/store/x.ts', "import { z } from 'zod'"],
      fine: ['functions/app/x.ts', "import { z } from 'zod'"],
    },
    {
      rule: 'no-zod-below-http',
      bad: ['functions/domain/x.ts', "import { z } from 'zod/v4'"],
      fine: ['functions/domain/x.ts', "import { zodiac } from 'zodiac'"],
    },
    {
      rule: 'key-builders-in-store',
      bad: ['functions/domain/x.ts', "import { keys } from '../store/keys.js'"],
      fine: ['functions/store/x.ts', "import { keys } from './keys.js'"],
    },
    {
      rule: 'key-builders-in-store',
      bad: ['functions/authz/sub/x.ts', "export * from '../../store/keys.js'"],
      fine: ['functions/authz/sub/x.ts', "import { x } from '../../store/keys-of-something.js'"],
    },
    {
      rule: 'key-prefixes-in-store',
      bad: ['functions/domain/x.ts', 'const pk = `ORG#${orgId}`'],
      fine: ['functions/store/x.ts', 'const pk = `ORG#${orgId}`'],
    },
    {
      rule: 'key-prefixes-in-store',
      bad: ['functions/authz/x.ts', 'const sk = `${a}` + "WS#" + id'],
      fine: ['functions/authz/x.ts', "// keys look like 'ORG#<id>'\nconst label = 'ORGS WS'"],
    },
    {
      rule: 'key-prefixes-in-store',
      bad: ['functions/app/x.ts', 'const sk = `a${b}S#${c}`'],
      fine: ['functions/app/x.ts', "const sk = 'WS' + '#'; const t = 'AWS#'"],
    },
    {
      rule: 'http-layer-on-top',
      bad: ['functions/domain/x.ts', "import type { AppEnv } from '../app/env.js'"],
      fine: ['functions/app/routes/x.ts', "import type { AppEnv } from '../env.js'"],
    },
    {
      rule: 'http-layer-on-top',
      bad: ['functions/store/x.ts', "const { createApp } = await import('../app/app.js')"],
      fine: ['functions/entry/x.ts', "import { createApp } from '../app/app.js'"],
    },
  ]

  it('has a failing case for every rule', () => {
    expect(new Set(cases.map((c) => c.rule))).toEqual(new Set(table.map((r) => r.id)))
  })

  it.each(cases)('$rule fails on $bad.0 and passes on $fine.0', ({ rule, bad, fine }) => {
    expect(ruleIds(...bad)).toEqual([rule])
    expect(ruleIds(...fine)).toEqual([])
  })

  it('names the file, line, import and rule in its message', () => {
    const [violation] = check(
      'functions/domain/x.ts',
      "import { a } from './a.js'\n\nimport {\n  HTTPException,\n} from 'hono/http-exception'\n"
    ).violations
    expect(violation?.message).toMatch(
      /^functions\/domain\/x\.ts:5 imports 'hono\/http-exception' — rule hono-in-http-layer \(allowed only in functions\/app\/, functions\/entry\/\): /
    )
  })

  it('suppresses an allowed violation, and reports an allowance that matches nothing', () => {
    const allowance = { rule: 'no-zod-below-http', file: 'functions/store/x.ts', reason: 'r' }
    expect(check('functions/store/x.ts', "import 'zod'", [allowance])).toEqual({
      violations: [],
      unusedAllowances: [],
    })
    expect(check('functions/store/x.ts', "import './y.js'", [allowance]).unusedAllowances).toEqual([
      allowance,
    ])
  })
})

describe('the scanner', () => {
  it('reads static, side-effect, re-export and dynamic specifiers, and nothing else', () => {
    const source = [
      "import a, { type B } from 'a'",
      'import type { C } from "c"',
      "import 'side-effect'",
      "export * from './star.js'",
      "export { d } from '../d.js'",
      'const e = await import(',
      "  'dynamic'",
      ')',
      "const f = Buffer.from('not-a-specifier')",
      "const g = { from: 'not-either' }",
      "const h = require('cjs')",
    ].join('\n')
    expect(
      scanLiterals(source)
        .filter((l) => l.specifier)
        .map((l) => [l.value, l.line])
    ).toEqual([
      ['a', 1],
      ['c', 2],
      ['side-effect', 3],
      ['./star.js', 4],
      ['../d.js', 5],
      ['dynamic', 7],
      ['cjs', 11],
    ])
  })

  it('skips comments and regular expressions, and follows template expressions', () => {
    const source = [
      "// import x from 'commented-out'",
      "/* import y from 'block'",
      "   still comment */ const ratio = a / b / 'c'.length",
      "const re = /'[/]`/g.test(s) ? `t${ { k: 'inner' }.k }u${`nested${'deep'}`}` : 'after'",
      "const half = (x) / 2; const quote = 'it\\'s'",
      "const share = pool[next++]! / 256; const path = 'x/y'; const not = !/'[/]'/.test(s) && x",
    ].join('\n')
    const scanned = scanSource(source)
    expect(scanned.literals.map((l) => [l.value, l.line])).toEqual([
      ['c', 3],
      ['t', 4],
      ['inner', 4],
      ['u', 4],
      ['nested', 4],
      ['deep', 4],
      ['', 4],
      ['', 4],
      ['after', 4],
      ["it\\'s", 5],
      ['x/y', 6],
    ])
    // The code keeps the source's line breaks, so code rules report the right line.
    expect(scanned.code.split('\n')).toHaveLength(6)
    expect(scanned.code).not.toContain('commented-out')
  })

  it('refuses source it cannot follow rather than guessing', () => {
    expect(() => scanLiterals("const a = 'open")).toThrow(/unterminated string at line 1/)
    expect(() => scanLiterals('const a = `open ${b}')).toThrow(/unterminated template/)
    expect(() => scanLiterals('/* open')).toThrow(/unterminated comment/)
    expect(() => scanLiterals('function f() {')).toThrow(/unclosed/)
  })

  it('resolves relative specifiers to repository paths', () => {
    expect(resolveSpecifier('functions/app/routes/x.ts', '../../store/keys.js')).toBe(
      'functions/store/keys.ts'
    )
    expect(resolveSpecifier('functions/app/x.ts', './scim/index.mjs')).toBe(
      'functions/app/scim/index.mts'
    )
    expect(resolveSpecifier('functions/app/x.ts', 'hono')).toBeNull()
  })
})
