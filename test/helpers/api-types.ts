import openapiTS, { astToString } from 'openapi-typescript'

/** Where the client types generated from `GET /openapi.json` are kept (npm run generate:api-types). */
export const API_TYPES_FILE = 'test/generated/api.ts'

/**
 * TypeScript types of the served document, as openapi-typescript writes them for openapi-fetch.
 * test/openapi-client.test.ts regenerates them and compares with the committed file.
 */
export async function apiTypes(document: object): Promise<string> {
  const ast = await openapiTS(document as Parameters<typeof openapiTS>[0])
  return [
    '// Generated from GET /openapi.json by openapi-typescript: npm run generate:api-types.',
    '// Do not edit; test/openapi-client.test.ts fails when it differs from the served document.',
    astToString(ast),
  ].join('\n')
}
