import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  MAX_CONTEXT_NESTING,
  MAX_POLICY_DEPTH_BUDGET,
  MAX_POLICY_NESTING,
  nestsDeeperThan,
  policyShape,
  policyTooDeep,
} from './cedar-limits.js'

const nested = (depth: number, inner = 'true') => `${'('.repeat(depth)}${inner}${')'.repeat(depth)}`
const policy = (condition: string) => `permit (principal, action, resource) when { ${condition} };`

describe('policyShape', () => {
  it('counts bracket nesting of all three kinds', () => {
    expect(policyShape('')).toEqual({ nesting: 0, operators: 0 })
    expect(policyShape('([{}])').nesting).toBe(3)
    expect(policyShape('()()()').nesting).toBe(1)
    expect(policyShape(policy(nested(5))).nesting).toBe(6) // the braces of `when { }` count
  })

  it('never lets stray closing brackets lower the depth below zero', () => {
    expect(policyShape(')))(((').nesting).toBe(3)
    expect(policyShape(')]}([{').nesting).toBe(3)
  })

  it('ignores brackets and operators in string literals, with their escapes, and in comments', () => {
    expect(policyShape('"(((+.-*<>==!="')).toEqual({ nesting: 0, operators: 0 })
    expect(policyShape('"a\\"(((" ')).toEqual({ nesting: 0, operators: 0 })
    expect(policyShape('"\\\\" (')).toEqual({ nesting: 1, operators: 0 })
    expect(policyShape('// if if (((\n(')).toEqual({ nesting: 1, operators: 0 })
    expect(policyShape('a // trailing (')).toEqual({ nesting: 0, operators: 0 })
  })

  it('counts each operator that adds a level, and not && or ||', () => {
    expect(policyShape('a.b + c - d * e').operators).toBe(4)
    expect(policyShape('a < b && c > d || e <= f && g >= h').operators).toBe(4)
    expect(policyShape('a == b && c != d && !e').operators).toBe(2)
    expect(policyShape('if a then b else if c then d else e').operators).toBe(2)
    expect(policyShape('p in G && r has x && s like "*" && t is T').operators).toBe(4)
  })

  it('counts keywords as whole words only', () => {
    expect(policyShape('index likes is_admin iff hasty inner ifx _in').operators).toBe(0)
    expect(policyShape('in2 in').operators).toBe(1)
  })

  it('finds the nesting of any bracket text as a depth counter clamped at zero would', () => {
    const reference = (text: string) => {
      let depth = 0
      let max = 0
      for (const ch of text) {
        if ('([{'.includes(ch)) max = Math.max(max, ++depth)
        else if (')]}'.includes(ch) && depth > 0) depth--
      }
      return max
    }
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('(', ')', '[', ']', '{', '}', ' ', 'x') }),
        (text) => {
          expect(policyShape(text)).toEqual({ nesting: reference(text), operators: 0 })
        }
      )
    )
  })

  it('sees nothing of any text quoted as a Cedar string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const quoted = `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
        expect(policyShape(quoted)).toEqual({ nesting: 0, operators: 0 })
      })
    )
  })

  it('scans a large text in linear time without recursion', () => {
    const text = '('.repeat(500_000) + '+'.repeat(500_000)
    expect(policyShape(text)).toEqual({ nesting: 500_000, operators: 500_000 })
  })
})

describe('policyTooDeep', () => {
  it('accepts nesting up to the limit and refuses one level more', () => {
    // when { … } is one level, so the condition may nest one less.
    expect(policyTooDeep(policy(nested(MAX_POLICY_NESTING - 1)))).toBeUndefined()
    expect(policyTooDeep(policy(nested(MAX_POLICY_NESTING)))).toMatch(
      new RegExp(`nests brackets ${MAX_POLICY_NESTING + 1} deep; at most ${MAX_POLICY_NESTING}`)
    )
  })

  it('refuses nesting and operators that together pass the budget', () => {
    const withOperators = (count: number) =>
      policy(
        Array(count + 1)
          .fill('1')
          .join(' + ')
      )
    // One level of nesting: `when { … }` (the head's parentheses close before it opens).
    expect(policyShape(withOperators(3))).toEqual({ nesting: 1, operators: 3 })
    expect(policyTooDeep(withOperators(MAX_POLICY_DEPTH_BUDGET - 1))).toBeUndefined()
    expect(policyTooDeep(withOperators(MAX_POLICY_DEPTH_BUDGET))).toMatch(
      /too complex: 64 operators .* and 1 levels of nesting; at most 64 together/
    )
  })

  it('does not count a long chain of && or || against the budget', () => {
    const chain = Array.from({ length: 500 }, (_, i) => `context.flag${i}`).join(' && ')
    expect(policyShape(policy(chain)).operators).toBe(500) // one `.` each
    const ors = Array.from({ length: 500 }, () => 'true').join(' || ')
    expect(policyTooDeep(policy(ors))).toBeUndefined()
  })
})

describe('nestsDeeperThan', () => {
  it('counts records and sets, not scalars', () => {
    expect(nestsDeeperThan('text', 0)).toBe(false)
    expect(nestsDeeperThan(null, 0)).toBe(false)
    expect(nestsDeeperThan({}, 0)).toBe(true)
    expect(nestsDeeperThan({}, 1)).toBe(false)
    expect(nestsDeeperThan({ a: [{ b: 1 }] }, 2)).toBe(true)
    expect(nestsDeeperThan({ a: [{ b: 1 }] }, 3)).toBe(false)
    expect(nestsDeeperThan({ a: [1, 'x', null], b: { c: true } }, 2)).toBe(false)
  })

  it('is exact at the context limit for any nesting', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.boolean(), (depth, arrays) => {
        let value: unknown = 1
        for (let i = 0; i < depth; i++) value = arrays ? [value] : { next: value }
        expect(nestsDeeperThan(value, MAX_CONTEXT_NESTING)).toBe(depth > MAX_CONTEXT_NESTING)
      })
    )
  })

  it('takes the deepest branch, not the first', () => {
    const deep = { shallow: {}, deep: { a: { b: { c: {} } } } }
    expect(nestsDeeperThan(deep, 4)).toBe(true)
    expect(nestsDeeperThan(deep, 5)).toBe(false)
  })

  it('answers for values far deeper than the call stack could recurse', () => {
    let value: unknown = []
    for (let i = 0; i < 200_000; i++) value = [value]
    expect(nestsDeeperThan(value, MAX_CONTEXT_NESTING)).toBe(true)
  })
})
