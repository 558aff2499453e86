import { parse } from 'scim2-parse-filter'
import { describe, expect, it } from 'vitest'
import { explainFilterError } from './filter-errors.js'

describe('explainFilterError', () => {
  it.each([
    ['userName eq', `'eq' after 'userName' needs a value, as in userName eq "bjensen".`],
    ['userName eq bob', `Text values go in double quotes: userName eq "bob".`],
    ['userName eq "bob', `The quoted value starting at character 13 is never closed`],
    ['userName equals "a"', `'equals' (character 10) is not a SCIM comparison operator`],
    ['userName', `'userName' at the end needs an operator and a value`],
    ['userName eq "a" and', `'and' at the end must be followed by a comparison`],
    ['(userName eq "a"', `The '(' at character 1 is never closed; add ')'.`],
    ['userName eq "a")', `')' at character 16 closes nothing that was opened.`],
    ['emails[type eq "work"', `The '[' at character 7 is never closed; add ']'.`],
    ['userName eq "a" xyz', `Unexpected 'xyz' at character 17 after a complete comparison`],
    ['"a" eq userName', 'Expected an attribute name at character 1 but found the value "a"'],
    ['userName eq "a" or or x', 'Expected an attribute name at character 20'],
    ['  ', 'The filter is empty'],
  ])('%s', (filter, words) => {
    // Each case really is a parse error of the library the filters go through.
    expect(() => parse(filter)).toThrow()
    expect(explainFilterError(filter)).toContain(words)
  })

  it('finds nothing to say about filters that parse', () => {
    for (const filter of [
      'userName eq "a"',
      'not (active eq false) and emails[type eq "work" and value co "@x"]',
      'meta.lastModified gt "2026-01-01T00:00:00Z" or title pr',
      'x eq 3 and y eq null and z eq true',
      'userName eq "say \\"hi\\""',
    ]) {
      expect(() => parse(filter), filter).not.toThrow()
      expect(explainFilterError(filter), filter).toBeUndefined()
    }
  })
})
