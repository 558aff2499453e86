import { writeFileSync } from 'node:fs'
import { API_TYPES_FILE, apiTypes } from '../test/helpers/api-types.js'
import { startHarness } from '../test/helpers/harness.js'

/** Writes the client types of the served OpenAPI document (see test/helpers/api-types.ts). */
const h = await startHarness({ validateResponses: false })
try {
  const doc = (await h.call('GET', '/openapi.json')).body
  writeFileSync(API_TYPES_FILE, await apiTypes(doc))
  console.log(`wrote ${API_TYPES_FILE}`)
} finally {
  await h.close()
}
