import { defineConfig } from 'vitest/config'

/**
 * Four projects, so that developers get a fast loop and CI still runs everything:
 * - unit: pure code (beside it in functions/) and tests that boot neither the store nor the app;
 * - http: requests through app.request() against the embedded store (any new test/ file lands here);
 * - slow: property tests with many runs, sweeps, 1,000-user SCIM, child processes, built bundles;
 * - browser: Chromium driving the real local server (the console, /docs).
 * `npm run test:fast` = unit + http; `npm test` runs all four.
 */
const UNIT = [
  'functions/**/*.test.ts',
  'test/layering.test.ts',
  'test/bench-stats.test.ts',
  'test/layering-config.test.ts',
  'test/policies.test.ts',
  'test/lambda-bootstrap.test.ts',
  'test/infra-stack.test.ts',
  'test/infra-webhooks.test.ts',
]
const SLOW = [
  'test/scim-provisioning-1000*.test.ts',
  'test/bundle-smoke.test.ts',
  'test/local-server.test.ts',
  'test/webhooks-local-server.test.ts',
  'test/embedded-store-memory.test.ts',
  'test/runtime.test.ts',
  'test/usage-properties.test.ts',
  'test/scim-properties.test.ts',
  'test/authorize-differential.test.ts',
  'test/authorized-differential.test.ts',
  'test/simulation-differential.test.ts',
  'test/robustness-fuzz.test.ts',
  // Sweeps and large fixtures: every route × tenants, store faults with retries, a big org.
  'test/cross-tenant-sweep.test.ts',
  'test/store-faults.test.ts',
  'test/realistic-org.test.ts',
  'test/policy-simulation-large.test.ts',
]
/** Headless Chromium (playwright-core) against the real local server: the console, /docs. */
const BROWSER = ['test/browser/**/*.test.ts']

export default defineConfig({
  test: {
    env: {
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_DEV: 'false',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Each project inherits the settings above (extends: true).
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: {
          name: 'http',
          include: ['test/**/*.test.ts'],
          exclude: [...UNIT, ...SLOW, ...BROWSER],
        },
      },
      { extends: true, test: { name: 'slow', include: SLOW } },
      {
        extends: true,
        test: {
          name: 'browser',
          include: BROWSER,
          // Builds the console once before any browser test (scripts/build-console.ts).
          globalSetup: ['test/browser/global-setup.ts'],
          testTimeout: 120_000,
        },
      },
    ],
  },
})
