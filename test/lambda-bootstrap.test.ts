import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  dbFromEnvironment,
  operatorKeyFromSecretValue,
  readOperatorKey,
} from '../functions/entry/lambda-bootstrap.js'
import {
  type FakeSecretsManager,
  startFakeSecretsManager,
} from './helpers/lambda-local/fake-secrets-manager.js'

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:operator-Ab12Cd'
const GENERATED = 'Zq3kTt8vLw2mXy5pRs9aBc4dEf7gHj1kMn6oPq0rSt2uVw3x'

describe('operatorKeyFromSecretValue', () => {
  it('prefixes a generated value with op_, and keeps a full op_ key as it is', () => {
    expect(operatorKeyFromSecretValue(GENERATED)).toBe(`op_${GENERATED}`)
    expect(operatorKeyFromSecretValue('op_chosen-by_hand-1234')).toBe('op_chosen-by_hand-1234')
    expect(operatorKeyFromSecretValue(`  ${GENERATED}\n`)).toBe(`op_${GENERATED}`)
  })

  it('rejects a value too short or with other characters', () => {
    expect(() => operatorKeyFromSecretValue('short')).toThrow(/at least 16 characters/)
    expect(() => operatorKeyFromSecretValue('has spaces in the middle of it')).toThrow()
    expect(() => operatorKeyFromSecretValue('{"key":"abcdefghijklmnopqrstuvwxyz"}')).toThrow()
  })
})

describe('readOperatorKey', () => {
  let fake: FakeSecretsManager
  beforeAll(async () => {
    fake = await startFakeSecretsManager({ [ARN]: GENERATED })
  })
  afterAll(() => fake.close())
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  function stubAws() {
    vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', fake.endpoint)
    vi.stubEnv('AWS_REGION', 'eu-west-1')
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test')
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test')
  }

  it('reads the secret named by OPERATOR_SECRET_ARN through the Secrets Manager API', async () => {
    stubAws()
    const before = fake.requests.length
    expect(await readOperatorKey({ OPERATOR_SECRET_ARN: ARN })).toBe(`op_${GENERATED}`)
    expect(fake.requests.slice(before)).toEqual([ARN])
  })

  it('names the secret when it cannot be read', async () => {
    stubAws()
    const missing = `${ARN}-gone`
    await expect(readOperatorKey({ OPERATOR_SECRET_ARN: missing })).rejects.toThrow(
      `Cannot read the operator secret ${missing}: Secrets Manager can't find the specified secret.`
    )
  })

  it('needs OPERATOR_SECRET_ARN', async () => {
    await expect(readOperatorKey({})).rejects.toThrow(/OPERATOR_SECRET_ARN must be set/)
  })
})

describe('dbFromEnvironment', () => {
  it('uses the table named by TABLE_NAME and needs it', () => {
    expect(dbFromEnvironment({ TABLE_NAME: 'admin-engine-prod' }).tableName).toBe(
      'admin-engine-prod'
    )
    expect(() => dbFromEnvironment({})).toThrow(/TABLE_NAME must be set/)
  })
})
