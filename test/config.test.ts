import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../functions/app/app.js'
import {
  decisionOptions,
  lambdaConfig,
  localServerConfig,
  operatorSecretArn,
} from '../functions/config.js'
import { Db } from '../functions/store/db.js'
import { as, email } from './helpers/admin-model.js'
import { createOrg, type Harness, startHarness } from './helpers/harness.js'
import { createServiceKey } from './helpers/usage.js'

/** The typed settings the entry points read (functions/config.ts) and what createApp does with them. */
describe('localServerConfig', () => {
  it('has the documented defaults', () => {
    expect(localServerConfig({})).toEqual({
      port: 3000,
      host: '127.0.0.1',
      dataDir: '.data',
      dynamodbEndpoint: undefined,
      storeAwsCredentials: false,
      storeRegion: 'us-east-1',
      tableName: 'admin-engine',
      operatorKey: undefined,
      aggregationIntervalSeconds: 60,
      decisions: {},
      webhookDeliveryIntervalSeconds: 5,
      webhookUrls: { allowLocalHttp: true },
    })
  })

  it('reads each variable', () => {
    const config = localServerConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      DATA_DIR: '/tmp/engine',
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      AWS_ACCESS_KEY_ID: 'AKIA',
      AWS_REGION: 'eu-west-1',
      TABLE_NAME: 'mine',
      OPERATOR_KEY: 'op_abcdefghijklmnop',
      AGGREGATION_INTERVAL_SECONDS: '0',
      DECISION_REVISION_CHECK_MS: '0',
      WEBHOOK_DELIVERY_INTERVAL_SECONDS: '0',
      WEBHOOK_ALLOW_LOCAL_HTTP: 'false',
    })
    expect(config).toEqual({
      port: 8080,
      host: '0.0.0.0',
      dataDir: '/tmp/engine',
      dynamodbEndpoint: 'http://127.0.0.1:8000',
      storeAwsCredentials: true,
      storeRegion: 'eu-west-1',
      tableName: 'mine',
      operatorKey: 'op_abcdefghijklmnop',
      aggregationIntervalSeconds: 0,
      decisions: { revisionCheckMs: 0 },
      webhookDeliveryIntervalSeconds: 0,
      webhookUrls: { allowLocalHttp: false },
    })
  })

  it('rejects a value it cannot use, naming the variable', () => {
    expect(() => localServerConfig({ PORT: '70000' })).toThrow(/PORT is not a port: 70000/)
    expect(() => localServerConfig({ WEBHOOK_ALLOW_LOCAL_HTTP: 'yes' })).toThrow(
      /WEBHOOK_ALLOW_LOCAL_HTTP must be true or false: yes/
    )
    expect(() => localServerConfig({ WEBHOOK_DELIVERY_INTERVAL_SECONDS: 'often' })).toThrow(
      /WEBHOOK_DELIVERY_INTERVAL_SECONDS must be a number of seconds ≥ 0: often/
    )
    expect(() => localServerConfig({ AGGREGATION_INTERVAL_SECONDS: '-1' })).toThrow(
      /AGGREGATION_INTERVAL_SECONDS must be a number of seconds/
    )
    expect(() => localServerConfig({ DECISION_REVISION_CHECK_MS: 'soon' })).toThrow(
      /DECISION_REVISION_CHECK_MS must be a number of milliseconds ≥ 0: soon/
    )
  })
})

describe('decisionOptions', () => {
  it('changes only what DECISION_REVISION_CHECK_MS says', () => {
    expect(decisionOptions({})).toEqual({})
    expect(decisionOptions({ DECISION_REVISION_CHECK_MS: '' })).toEqual({})
    expect(decisionOptions({ DECISION_REVISION_CHECK_MS: '250' })).toEqual({ revisionCheckMs: 250 })
    expect(() => decisionOptions({ DECISION_REVISION_CHECK_MS: '-5' })).toThrow(/≥ 0: -5/)
  })
})

describe('the Lambda settings', () => {
  it('need TABLE_NAME (and the API its OPERATOR_SECRET_ARN); an empty ALERT_BUS_NAME is none', () => {
    expect(lambdaConfig({ TABLE_NAME: 't', ALERT_BUS_NAME: 'bus' })).toEqual({
      tableName: 't',
      alertBusName: 'bus',
      webhookUrls: { allowLocalHttp: false },
    })
    expect(lambdaConfig({ TABLE_NAME: 't', WEBHOOK_ALLOW_LOCAL_HTTP: 'true' }).webhookUrls).toEqual(
      { allowLocalHttp: true }
    )
    expect(lambdaConfig({ TABLE_NAME: 't', ALERT_BUS_NAME: '' }).alertBusName).toBeUndefined()
    expect(() => lambdaConfig({ ALERT_BUS_NAME: 'bus' })).toThrow(/TABLE_NAME must be set/)
    expect(operatorSecretArn({ OPERATOR_SECRET_ARN: 'arn:x' })).toBe('arn:x')
    expect(() => operatorSecretArn({})).toThrow(/OPERATOR_SECRET_ARN must be set/)
  })
})

describe('createApp takes the decision settings from its deps', () => {
  const HOUR = 3_600_000
  let h: Harness

  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(() => h.close())

  it('a revision check interval of 0 sees a change made by another instance at once', async () => {
    const org = await createOrg(h)
    const api = as(h, org.adminKey)
    const svc = await createServiceKey(h)
    const member = (await api.create('/v1/members', { email: email(), name: 'M' })).id as string
    // Not the default workspace, where every member has a role already.
    const ws = (await api.create('/v1/workspaces', { name: 'Product' })).id as string
    const instance = (revisionCheckMs: number) =>
      createApp({
        // Another instance: its own table client, so it shares nothing in memory with the harness.
        db: new Db(h.db.doc, h.db.tableName),
        clock: h.clock,
        operatorKey: h.operatorKey,
        decisionOptions: { revisionCheckMs },
      })
    const strict = instance(0)
    const lazy = instance(HOUR)
    const decide = async (app: ReturnType<typeof createApp>) => {
      const response = await app.request('/v1/authorize', {
        method: 'POST',
        headers: { authorization: `Bearer ${svc}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          organization_id: org.id,
          principal: { type: 'Member', id: member },
          action: 'use_studio',
          resource: { type: 'Workspace', id: ws },
        }),
      })
      expect(response.status).toBe(200)
      return ((await response.json()) as { decision: string }).decision
    }
    // Both cache the organization, then the harness's app (another instance) grants the role.
    expect([await decide(strict), await decide(lazy)]).toEqual(['deny', 'deny'])
    await api.create(`/v1/workspaces/${ws}/access/members/${member}`, { roles: ['dev'] }, 'PUT')
    // The strict instance reads the revision before every decision; the other keeps its
    // snapshot for the hour it was told to.
    expect([await decide(strict), await decide(lazy)]).toEqual(['allow', 'deny'])
  })
})
