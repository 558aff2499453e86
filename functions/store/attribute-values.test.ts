import { marshall } from '@aws-sdk/util-dynamodb'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MARSHALL_OPTIONS, toAttributeMap } from './attribute-values.js'

/** What a conversion gives: its attribute values, or the message of the error it threw. */
function outcome(convert: () => unknown) {
  try {
    return { value: convert() }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

const value = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.double(),
    fc.integer(),
    fc.constantFrom(
      0,
      -0,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      2 ** 53,
      -(2 ** 60),
      Number.NaN,
      Number.POSITIVE_INFINITY,
      ''
    ),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.constant(() => 1),
    fc.bigInt(),
    fc.uint8Array({ maxLength: 8 }),
    fc.array(tie('any'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('any'), { maxKeys: 4 }),
    fc
      .uniqueArray(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 3 })
      .map((strings) => new Set(strings))
  ),
})).any

describe('toAttributeMap', () => {
  it('marshals any item exactly as @aws-sdk/util-dynamodb does, errors included', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }), value, { maxKeys: 12 }), (item) => {
        expect(outcome(() => toAttributeMap(item))).toEqual(
          outcome(() => marshall(item, MARSHALL_OPTIONS))
        )
      }),
      { numRuns: 2000 }
    )
  })

  it('writes an event copy attribute by attribute', () => {
    const copy = {
      PK: 'UEVC#org_1#3',
      SK: 'evt-1 7/01JD',
      api_key_id: null,
      member_id: undefined,
      input_tokens: 1200,
      cost_sub_micros: 0.5,
      archived: false,
    }
    expect(toAttributeMap(copy)).toEqual({
      PK: { S: 'UEVC#org_1#3' },
      SK: { S: 'evt-1 7/01JD' },
      api_key_id: { NULL: true },
      input_tokens: { N: '1200' },
      cost_sub_micros: { N: '0.5' },
      archived: { BOOL: false },
    })
  })
})
