import { describe, expect, it } from 'vitest'
import { ScimProblem } from './errors.js'
import {
  candidates,
  type FilterableAttributes,
  keyedLookups,
  matches,
  parseFilter,
} from './filter.js'
import { MAX_SCAN } from './schemas.js'

const CORE = 'urn:ietf:params:scim:schemas:core:2.0:User'
const ATTRIBUTES: FilterableAttributes = {
  id: { type: 'string', caseExact: true },
  username: { type: 'string' },
  externalid: { type: 'string', caseExact: true },
  emails: { type: 'complex' },
  'emails.value': { type: 'string' },
  'emails.type': { type: 'string' },
  active: { type: 'boolean' },
}
const KEYED = new Set(['username', 'emails.value', 'externalid', 'id'])
const user = {
  id: 'mem_1',
  userName: 'Ada@Example.com',
  externalId: 'Ext-1',
  emails: [{ value: 'ada@example.com', type: 'work' }],
  active: true,
}
const test = (text: string) => matches(user, parseFilter(text, ATTRIBUTES, CORE), ATTRIBUTES, CORE)
const lookups = (text: string) => keyedLookups(parseFilter(text, ATTRIBUTES, CORE), KEYED, CORE)

describe('filter evaluation', () => {
  it('compares case-insensitively unless the attribute is caseExact', () => {
    expect(test('userName eq "ada@example.COM"')).toBe(true)
    expect(test(`${CORE}:userName sw "ADA"`)).toBe(true)
    expect(test('externalId eq "ext-1"')).toBe(false)
    expect(test('externalId eq "Ext-1"')).toBe(true)
  })

  it('handles value paths, pr, ne and not', () => {
    expect(test('emails[type eq "work" and value ew "example.com"]')).toBe(true)
    expect(test('emails[type eq "home"]')).toBe(false)
    expect(test('emails.value pr and not (active eq false)')).toBe(true)
    expect(test('externalId ne "Ext-1"')).toBe(false)
    expect(test('id ne "mem_2"')).toBe(true)
  })
})

describe('keyed lookups', () => {
  it('finds an eq on a keyed attribute alone, in an and, in every branch of an or', () => {
    expect(lookups('userName eq "a@x.io"')).toEqual([{ attribute: 'username', value: 'a@x.io' }])
    expect(lookups('active eq true and externalId eq "e"')).toEqual([
      { attribute: 'externalid', value: 'e' },
    ])
    expect(lookups('emails[type eq "work"].value eq "a@x.io"')).toEqual([
      { attribute: 'emails.value', value: 'a@x.io' },
    ])
    expect(lookups('id eq "1" or userName eq "b@x.io"')).toHaveLength(2)
  })

  it('needs a scan otherwise', () => {
    expect(lookups('userName co "x"')).toBeUndefined()
    expect(lookups('id eq "1" or active eq true')).toBeUndefined()
    expect(lookups('not (id eq "1")')).toBeUndefined()
  })
})

describe('candidates', () => {
  it(`refuses an organization above ${MAX_SCAN} resources with tooMany, unless keyed`, async () => {
    const scan = async (max: number) => Array.from({ length: max }, (_, i) => i)
    const refused = candidates(undefined, async () => [], scan, 'members', 'userName')
    await expect(refused).rejects.toBeInstanceOf(ScimProblem)
    await expect(refused).rejects.toMatchObject({ status: 400, scimType: 'tooMany' })
    const keyed = await candidates(
      [{ attribute: 'id', value: 'x' }],
      async () => [7],
      scan,
      'members',
      ''
    )
    expect(keyed).toEqual([7])
    const small = await candidates(
      undefined,
      async () => [],
      async () => [1, 2],
      'members',
      ''
    )
    expect(small).toEqual([1, 2])
  })
})
