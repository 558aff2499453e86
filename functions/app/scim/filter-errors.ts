/**
 * Plain-words explanations of a SCIM filter (RFC 7644 §3.4.2.2) that does not parse. The
 * parser library says things like `[(EOT)] is not json`; an administrator wiring up an identity
 * provider needs "eq after userName needs a value". Called only once parsing has failed: the
 * filter is walked token by token with what the grammar expects next, and the first token that
 * does not fit is described, with where it is and an example of the right form.
 */

const OPERATORS = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le']
const OPERATOR_LIST = 'eq, ne, co, sw, ew, gt, lt, ge, le or pr'
const EXAMPLE = 'userName eq "bjensen"'

interface Token {
  text: string
  /** 1-based character position, as people count. */
  at: number
  kind: 'open' | 'close' | 'openBracket' | 'closeBracket' | 'quoted' | 'word'
}

type Expect = 'attribute' | 'operator' | 'value' | 'logic'

/** The explanation, or undefined when the walk finds nothing wrong (the caller says more). */
export function explainFilterError(text: string): string | undefined {
  if (text.trim() === '') return `The filter is empty; write a comparison such as ${EXAMPLE}.`
  const tokens = tokenize(text)
  if (typeof tokens === 'string') return tokens
  const stack: Token[] = []
  let expect: Expect = 'attribute'
  let previous: Token | undefined
  let attribute: Token | undefined
  let operator: Token | undefined
  for (const token of tokens) {
    const lower = token.text.toLowerCase()
    switch (expect) {
      case 'attribute':
        if (token.kind === 'open') {
          stack.push(token)
        } else if (token.kind === 'word' && lower === 'not') {
          // `not` must be followed by a parenthesised filter; the next token checks that.
        } else if (token.kind === 'word' && !['and', 'or'].includes(lower)) {
          attribute = token
          expect = 'operator'
        } else {
          const what = token.kind === 'quoted' ? `the value ${token.text}` : `'${token.text}'`
          return `Expected an attribute name at character ${token.at} but found ${what}; a comparison starts with the attribute, as in ${EXAMPLE}.`
        }
        break
      case 'operator':
        if (token.kind === 'openBracket') {
          stack.push(token)
          expect = 'attribute'
        } else if (token.kind === 'word' && lower === 'pr') {
          expect = 'logic'
        } else if (token.kind === 'word' && OPERATORS.includes(lower)) {
          operator = token
          expect = 'value'
        } else {
          return `'${token.text}' (character ${token.at}) is not a SCIM comparison operator after '${attribute?.text}'; use one of ${OPERATOR_LIST}, as in ${EXAMPLE}.`
        }
        break
      case 'value':
        if (token.kind === 'quoted' || isLiteral(token)) {
          expect = 'logic'
        } else {
          const hint =
            token.kind === 'word'
              ? ` Text values go in double quotes: ${attribute?.text} ${operator?.text} "${token.text}".`
              : ''
          return `'${attribute?.text} ${operator?.text}' needs a value at character ${token.at}, found '${token.text}'.${hint}`
        }
        break
      case 'logic':
        if (token.kind === 'word' && (lower === 'and' || lower === 'or')) {
          expect = 'attribute'
        } else if (token.kind === 'close' || token.kind === 'closeBracket') {
          const open = stack.pop()
          const wanted = token.kind === 'close' ? 'open' : 'openBracket'
          if (!open || open.kind !== wanted) {
            return `'${token.text}' at character ${token.at} closes nothing that was opened.`
          }
          // After `emails[type eq "work"]` a comparison may still follow (`… pr`, `… and …`).
          expect = 'logic'
        } else if (token.kind === 'word' && previous?.kind === 'closeBracket') {
          if (lower === 'pr') break
          if (!OPERATORS.includes(lower)) {
            return `Unexpected '${token.text}' at character ${token.at} after '${previous.text}'; join comparisons with and / or.`
          }
          operator = token
          expect = 'value'
        } else {
          return `Unexpected '${token.text}' at character ${token.at} after a complete comparison; join comparisons with and / or, as in ${EXAMPLE} and active eq true.`
        }
        break
    }
    previous = token
  }
  if (expect === 'operator') {
    return `'${attribute?.text}' at the end needs an operator and a value, as in ${EXAMPLE}.`
  }
  if (expect === 'value') {
    return `'${operator?.text}' after '${attribute?.text}' needs a value, as in ${attribute?.text} ${operator?.text} "bjensen".`
  }
  if (expect === 'attribute') {
    const last = previous ? `'${previous.text}' at the end` : 'The filter'
    return `${last} must be followed by a comparison, such as ${EXAMPLE}.`
  }
  const unclosed = stack.pop()
  if (unclosed) {
    const closer = unclosed.kind === 'open' ? ')' : ']'
    return `The '${unclosed.text}' at character ${unclosed.at} is never closed; add '${closer}'.`
  }
  return undefined
}

/** Numbers, booleans and null are the values that need no quotes. */
function isLiteral(token: Token): boolean {
  return (
    token.kind === 'word' && /^(true|false|null|-?\d+(\.\d+)?([eE][+-]?\d+)?)$/i.test(token.text)
  )
}

/** Tokens, or the explanation of a string that is never closed. */
function tokenize(text: string): Token[] | string {
  const tokens: Token[] = []
  let i = 0
  while (i < text.length) {
    const char = text[i]!
    if (/\s/.test(char)) {
      i++
      continue
    }
    const at = i + 1
    if (char === '"') {
      let end = i + 1
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1
      if (end >= text.length) {
        return `The quoted value starting at character ${at} is never closed; add the missing '"'.`
      }
      tokens.push({ text: text.slice(i, end + 1), at, kind: 'quoted' })
      i = end + 1
      continue
    }
    const single = { '(': 'open', ')': 'close', '[': 'openBracket', ']': 'closeBracket' } as const
    if (char in single) {
      tokens.push({ text: char, at, kind: single[char as keyof typeof single] })
      i++
      continue
    }
    let end = i
    while (end < text.length && !/[\s"()[\]]/.test(text[end]!)) end++
    tokens.push({ text: text.slice(i, end), at, kind: 'word' })
    i = end
  }
  return tokens
}
