import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { API_TYPES_FILE, consoleApiTypes } from '../scripts/api-types.js'

describe('console/src/api.gen.ts', () => {
  it('is what openapi-typescript makes of the served /openapi.json today', async () => {
    const fresh = await consoleApiTypes()
    // On failure: `npm run generate:api-types`, then fix what `npm run typecheck` reports.
    expect(readFileSync(API_TYPES_FILE, 'utf8') === fresh, 'the console types are stale').toBe(true)
  })
})
