import { createConfig, lintFromString } from '@redocly/openapi-core'
import { Document, type RulesetDefinition, Spectral } from '@stoplight/spectral-core'
import * as Parsers from '@stoplight/spectral-parsers'
import { oas } from '@stoplight/spectral-rulesets'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Harness, startHarness } from './helpers/harness.js'

/**
 * The served document passes the two linters clients and doc tools use: Spectral's OpenAPI
 * ruleset (`spectral:oas`, its recommended rules) and Redocly's `recommended` rules — no error
 * and no warning, so a rule that starts failing names the operation that broke it.
 */
let h: Harness
let source: string

beforeAll(async () => {
  h = await startHarness()
  source = (await h.call('GET', '/openapi.json')).text
})
afterAll(() => h.close())

describe('the OpenAPI document', () => {
  it("passes Spectral's spectral:oas ruleset with no error or warning", async () => {
    const spectral = new Spectral()
    // The package's own typing of the ruleset object is looser than RulesetDefinition.
    spectral.setRuleset({ extends: [[oas as RulesetDefinition, 'recommended']] })
    const results = await spectral.run(new Document(source, Parsers.Json, 'openapi.json'))
    expect(results.map((r) => `${r.code} at ${r.path.join('/')}: ${r.message}`)).toEqual([])
  })

  it("passes Redocly's recommended rules with no error or warning", async () => {
    const config = await createConfig({ extends: ['recommended'] })
    const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config })
    expect(
      problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message} (${p.severity})`)
    ).toEqual([])
  })

  it('names every operation uniquely and says which credential it takes', async () => {
    const doc = JSON.parse(source)
    const ids: string[] = []
    for (const item of Object.values<Record<string, Record<string, unknown>>>(doc.paths)) {
      for (const op of Object.values(item)) {
        ids.push(String(op.operationId))
        expect(op.description).toMatch(/Credential: |No credential\./)
      }
    }
    expect(ids.length).toBeGreaterThan(70)
    expect(new Set(ids).size).toBe(ids.length)
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })])
  })

  it('declares on each operation the errors it can meet', () => {
    const doc = JSON.parse(source)
    const missing: string[] = []
    for (const [path, item] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
      for (const [method, op] of Object.entries<Record<string, unknown>>(item)) {
        const declared = Object.keys(op.responses as object)
        const params = (op.parameters ?? []) as { in: string; name: string }[]
        // Every request: strict query → 400; the gateway's throttle, a bug, the store busy.
        const need = ['400', '429', '500', '503']
        if ((op.security as unknown[]).length > 0) need.push('401', '403')
        // An id in the path names a resource that may not exist (or be another organization's);
        // PUT /v1/policies/{id} creates the policy of the id the caller chose.
        const ids = params.filter((p) => p.in === 'path' && /(^|_)id$/.test(p.name))
        if (ids.length > 0 && `${method} ${path}` !== 'put /v1/policies/{id}') need.push('404')
        if (params.some((p) => p.in === 'header' && p.name === 'idempotency-key')) need.push('409')
        if (op.requestBody) need.push('413', '415')
        for (const status of need) {
          if (!declared.includes(status)) missing.push(`${method.toUpperCase()} ${path}: ${status}`)
        }
      }
    }
    expect(missing).toEqual([])
  })
})
