/**
 * Bounds on what user input may ask of cedar-wasm. Cedar parses, validates and evaluates
 * recursively, on the wasm stack (1 MiB) and the JS stack it runs on: a policy with ~100
 * nested parentheses, or a chain of ~200 `+` or `else if`, overflows one of them, and a wasm
 * instance whose stack overflowed is unusable until it is rebuilt (engine.ts). These checks
 * refuse such input before it reaches Cedar; the limits are a third or less of the depth at
 * which the wasm traps (docs/authorization.md, "Limits on policy text and context").
 */

/** Nesting of (), [] and {} in a policy, outside string literals and comments. */
export const MAX_POLICY_NESTING = 32
/**
 * Operators in one policy, each of which may add a level to its expression tree: `.`, `+`,
 * `-`, `*`, comparisons, `if`, `in`, `has`, `like`, `is` (not `&&` / `||`: Cedar does not
 * recurse per term of those chains). Nesting counts towards it too, so the deepest tree the
 * text can describe stays well below the trap.
 */
export const MAX_POLICY_DEPTH_BUDGET = 64
/** Nesting of records and sets (JSON objects and arrays) in a decision's context. */
export const MAX_CONTEXT_NESTING = 16

const KEYWORD_OPERATORS = new Set(['if', 'in', 'has', 'like', 'is'])

/** What the scanner found in a policy text: how deep its brackets nest and its operators. */
export interface PolicyShape {
  nesting: number
  operators: number
}

/**
 * Scans Cedar text without parsing it: brackets and operators outside string literals (with
 * their `\` escapes) and `//` comments. Linear in the text and allocation-free.
 */
export function policyShape(text: string): PolicyShape {
  let depth = 0
  let nesting = 0
  let operators = 0
  const length = text.length
  let i = 0
  while (i < length) {
    const ch = text.charCodeAt(i)
    if (ch === 0x22 /* " */) {
      i++
      while (i < length) {
        const inner = text.charCodeAt(i)
        if (inner === 0x5c /* \ */) i += 2
        else if (inner === 0x22) break
        else i++
      }
      i++
      continue
    }
    if (ch === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x2f) {
      const end = text.indexOf('\n', i)
      i = end === -1 ? length : end + 1
      continue
    }
    if (ch === 0x28 || ch === 0x5b || ch === 0x7b /* ( [ { */) {
      depth++
      if (depth > nesting) nesting = depth
    } else if (ch === 0x29 || ch === 0x5d || ch === 0x7d /* ) ] } */) {
      if (depth > 0) depth--
    } else if (isWordStart(ch)) {
      const start = i
      while (i < length && isWordPart(text.charCodeAt(i))) i++
      if (KEYWORD_OPERATORS.has(text.slice(start, i))) operators++
      continue
    } else if (
      ch === 0x2e /* . */ ||
      ch === 0x2b /* + */ ||
      ch === 0x2d /* - */ ||
      ch === 0x2a /* * */ ||
      ch === 0x3c /* < */ ||
      ch === 0x3e /* > */
    ) {
      operators++
    } else if ((ch === 0x3d /* = */ || ch === 0x21) /* ! */ && text.charCodeAt(i + 1) === 0x3d) {
      operators++
      i += 2
      continue
    }
    i++
  }
  return { nesting, operators }
}

const isWordStart = (ch: number) =>
  (ch >= 0x61 && ch <= 0x7a) || (ch >= 0x41 && ch <= 0x5a) || ch === 0x5f
const isWordPart = (ch: number) => isWordStart(ch) || (ch >= 0x30 && ch <= 0x39)

/** Why the policy text is too deep for Cedar to take safely, or undefined when it is not. */
export function policyTooDeep(text: string): string | undefined {
  const shape = policyShape(text)
  if (shape.nesting > MAX_POLICY_NESTING) {
    return `The policy nests brackets ${shape.nesting} deep; at most ${MAX_POLICY_NESTING} levels of (), [] and {} are accepted.`
  }
  if (shape.nesting + shape.operators > MAX_POLICY_DEPTH_BUDGET) {
    return `The policy is too complex: ${shape.operators} operators (., +, -, *, comparisons, if, in, has, like, is) and ${shape.nesting} levels of nesting; at most ${MAX_POLICY_DEPTH_BUDGET} together are accepted. Split it into several policies.`
  }
  return undefined
}

/**
 * Whether a JSON value nests records and sets deeper than `max` (iterative: the value may
 * be deeper than the JS stack allows to recurse).
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }]
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!
    if (current === null || typeof current !== 'object') continue
    if (depth + 1 > max) return true
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (child !== null && typeof child === 'object')
        stack.push({ value: child, depth: depth + 1 })
    }
  }
  return false
}
