import { Logger } from '@aws-lambda-powertools/logger'

/**
 * The one structured JSON logger. Log level comes from POWERTOOLS_LOG_LEVEL (or LOG_LEVEL);
 * request handlers log through a child carrying the request id. Secrets are never passed to it:
 * credentials are logged by id only.
 */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'admin-engine',
})
