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
})
