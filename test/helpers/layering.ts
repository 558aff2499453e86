import { readdirSync, readFileSync } from 'node:fs'
import { join, posix, relative } from 'node:path'

/**
 * The layering rules of README "Where things are" and /work/shared/engineering.md, checked on
 * the source text. TypeScript 7 has no JavaScript API, so a small lexer finds the string
 * literals (skipping comments, template expressions and regular expressions); an import is a
 * literal right after `from`, `import`, `import(` or `require(`.
 */

export interface Literal {
  /** The literal's text (a template literal contributes one entry per text chunk). */
  value: string
  line: number
  /** True for a module specifier: static import/export-from, `import 'x'`, `import('x')`. */
  specifier: boolean
}

const IDENTIFIER_CHAR = /[A-Za-z0-9_$]/
/** Words after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER_WORD = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
])
const SPECIFIER_BEFORE = /(?:^|[^.\w$])(?:from|import|import\s*\(|require\s*\()\s*$/

export interface Scanned {
  literals: Literal[]
  /** The code with comments dropped and each literal (or template chunk) replaced by `""`; it
   *  keeps every line break of the source, so an offset in it gives the source line. */
  code: string
}

export function scanSource(source: string): Scanned {
  const literals: Literal[] = []
  /** Code seen so far with comments dropped and each literal replaced by `""`. */
  let code = ''
  let line = 1
  let i = 0
  /** One entry per open `{`: true if it opened a template expression `${`. */
  const braces: boolean[] = []

  /** Line breaks inside a comment or literal, added to `code` after it so that lines align. */
  let pendingLines = ''
  const newline = () => {
    line++
    pendingLines += '\n'
  }
  /** Stands for a literal or comment in `code`. */
  const placeholder = (text: string) => {
    code += text + pendingLines
    pendingLines = ''
  }
  const fail = (what: string): never => {
    throw new Error(`layering scanner: ${what} at line ${line}`)
  }
  const push = (value: string, startLine: number, specifierPossible: boolean) => {
    const specifier = specifierPossible && SPECIFIER_BEFORE.test(code.slice(-24))
    literals.push({ value, line: startLine, specifier })
  }
  /** Reads template text from i (just after '`' or a closing '}') up to '`' or '${'. */
  const templateChunk = (startLine: number, isWhole: boolean) => {
    let value = ''
    while (true) {
      if (i >= source.length) fail('unterminated template literal')
      const c = source[i]
      if (c === '\\') {
        value += source.slice(i, i + 2)
        if (source[i + 1] === '\n') newline()
        i += 2
        continue
      }
      if (c === '`') {
        i++
        push(value, startLine, isWhole)
        placeholder('""')
        return
      }
      if (c === '$' && source[i + 1] === '{') {
        i += 2
        push(value, startLine, false)
        placeholder('""')
        braces.push(true)
        return
      }
      if (c === '\n') newline()
      value += c
      i++
    }
  }

  while (i < source.length) {
    const c = source[i]
    const next = source[i + 1]
    if (c === '\n') {
      line++
      code += c
      i++
    } else if (c === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') i++
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2)
      if (end < 0) fail('unterminated comment')
      for (const ch of source.slice(i, end)) if (ch === '\n') newline()
      placeholder(' ')
      i = end + 2
    } else if (c === "'" || c === '"') {
      const startLine = line
      let value = ''
      i++
      while (source[i] !== c) {
        if (i >= source.length || source[i] === '\n') fail('unterminated string')
        if (source[i] === '\\') {
          if (source[i + 1] === '\n') newline()
          value += source.slice(i, i + 2)
          i += 2
        } else value += source[i++]
      }
      i++
      push(value, startLine, true)
      placeholder('""')
    } else if (c === '`') {
      i++
      templateChunk(line, true)
    } else if (c === '{') {
      braces.push(false)
      code += c
      i++
    } else if (c === '}') {
      if (braces.length === 0) fail("unbalanced '}'")
      i++
      if (braces.pop()) templateChunk(line, false)
      else code += c
    } else if (c === '/' && startsRegex(code)) {
      i++
      let inClass = false
      while (inClass || source[i] !== '/') {
        if (i >= source.length || source[i] === '\n') fail('unterminated regular expression')
        if (source[i] === '\\') i++
        else if (source[i] === '[') inClass = true
        else if (source[i] === ']') inClass = false
        i++
      }
      i++
      while (IDENTIFIER_CHAR.test(source[i] ?? '')) i++
      placeholder('/re/')
    } else {
      code += c
      i++
    }
  }
  if (braces.length > 0) fail("unclosed '{'")
  return { literals, code }
}

export const scanLiterals = (source: string): Literal[] => scanSource(source).literals

function startsRegex(code: string): boolean {
  const trimmed = code.trimEnd()
  const last = trimmed.at(-1)
  if (last === undefined) return true
  if (last === ')' || last === ']' || last === '}') return false
  // A TypeScript non-null assertion (`x[i]! / 2`) is postfix: a '/' after it is a division;
  // a logical not (`!/re/.test(s)`) follows an operator, a bracket or a space.
  if (last === '!' && /[)\]A-Za-z0-9_$]/.test(trimmed.at(-2) ?? '')) return false
  if (IDENTIFIER_CHAR.test(last)) {
    const word = /[A-Za-z0-9_$]+$/.exec(trimmed)?.[0] ?? ''
    return REGEX_AFTER_WORD.has(word)
  }
  // '""' stands for a literal: a '/' after a string is a division.
  return last !== '"'
}

// ----- Rules -----

/** A source file: its path relative to the repository root (posix separators) and its text. */
export interface SourceFile {
  path: string
  text: string
}

/** Where a rule lets its target appear: path prefixes ('functions/app/') or exact files. */
type Places = readonly string[]

interface RuleBase {
  id: string
  /** Why the rule exists, shown with every violation. */
  why: string
  /** The rule holds only inside these places (`allowedIn`) or everywhere except (`forbiddenIn`). */
  allowedIn?: Places
  forbiddenIn?: Places
}

export interface ImportRule extends RuleBase {
  kind: 'import'
  /** Bare package names: 'hono' matches 'hono' and 'hono/…'; '@hono/*' a whole scope. */
  packages?: readonly string[]
  /** Repository paths (files or folder prefixes) a relative import may not resolve into. */
  modules?: Places
}

export interface LiteralRule extends RuleBase {
  kind: 'literal'
  /** What the literal is; the rule matches a literal that starts with one of `prefixes`. */
  what: string
  prefixes: readonly string[]
}

/** A name in the code itself (comments and literals excluded), e.g. an object key. */
export interface CodeRule extends RuleBase {
  kind: 'code'
  what: string
  pattern: RegExp
}

export type Rule = ImportRule | LiteralRule | CodeRule

export interface AllowedViolation {
  rule: string
  file: string
  reason: string
}

export interface Violation {
  rule: string
  file: string
  line: number
  found: string
  message: string
}

const inPlaces = (path: string, places: Places) =>
  places.some((place) => (place.endsWith('/') ? path.startsWith(place) : path === place))

const applies = (rule: Rule, path: string) =>
  rule.allowedIn ? !inPlaces(path, rule.allowedIn) : inPlaces(path, rule.forbiddenIn ?? [])

const matchesPackage = (specifier: string, pattern: string) =>
  pattern.endsWith('/*')
    ? specifier.startsWith(pattern.slice(0, -1))
    : specifier === pattern || specifier.startsWith(`${pattern}/`)

/** A relative specifier as a repository path, with the `.js` of ESM imports read as `.ts`. */
export function resolveSpecifier(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null
  const resolved = posix.normalize(posix.join(posix.dirname(from), specifier))
  return resolved.replace(/\.(m|c)?js$/, '.$1ts')
}

function where(rule: Rule): string {
  return rule.allowedIn
    ? `allowed only in ${rule.allowedIn.join(', ')}`
    : `not allowed in ${(rule.forbiddenIn ?? []).join(', ')}`
}

export function checkLayering(
  files: readonly SourceFile[],
  rules: readonly Rule[],
  allowed: readonly AllowedViolation[] = []
): { violations: Violation[]; unusedAllowances: AllowedViolation[] } {
  const found: Violation[] = []
  for (const file of files) {
    const { literals, code } = scanSource(file.text)
    for (const rule of rules) {
      if (!applies(rule, file.path)) continue
      if (rule.kind === 'code') {
        for (const match of code.matchAll(new RegExp(rule.pattern.source, 'g'))) {
          const line = code.slice(0, match.index).split('\n').length
          found.push({
            rule: rule.id,
            file: file.path,
            line,
            found: match[0],
            message: `${file.path}:${line} has ${rule.what} '${match[0]}' — rule ${rule.id} (${where(rule)}): ${rule.why}`,
          })
        }
        continue
      }
      for (const literal of literals) {
        let hit = false
        if (rule.kind === 'import' && literal.specifier) {
          const target = resolveSpecifier(file.path, literal.value)
          hit =
            target === null
              ? (rule.packages ?? []).some((p) => matchesPackage(literal.value, p))
              : inPlaces(target, rule.modules ?? [])
        } else if (rule.kind === 'literal' && !literal.specifier) {
          hit = rule.prefixes.some((prefix) => literal.value.startsWith(prefix))
        }
        if (!hit) continue
        const verb = rule.kind === 'import' ? 'imports' : `has ${rule.what}`
        found.push({
          rule: rule.id,
          file: file.path,
          line: literal.line,
          found: literal.value,
          message: `${file.path}:${literal.line} ${verb} '${literal.value}' — rule ${rule.id} (${where(rule)}): ${rule.why}`,
        })
      }
    }
  }
  const isAllowed = (v: Violation) => allowed.some((a) => a.rule === v.rule && a.file === v.file)
  return {
    violations: found.filter((v) => !isAllowed(v)),
    unusedAllowances: allowed.filter(
      (a) => !found.some((v) => v.rule === a.rule && v.file === a.file)
    ),
  }
}

/** Every TypeScript file under `folder` (relative to `root`), found by walking it. */
export function readSources(root: string, folder: string): SourceFile[] {
  const files: SourceFile[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (/\.[mc]?tsx?$/.test(entry.name)) {
        const path = relative(root, full).split('\\').join('/')
        files.push({ path, text: readFileSync(full, 'utf8') })
      }
    }
  }
  walk(join(root, folder))
  return files.sort((a, b) => a.path.localeCompare(b.path))
}

/** The key prefixes (`ORG#`, `WS#`, …) that the store's key builders start their strings with. */
export function keyPrefixes(keysSource: string): string[] {
  const prefixes = new Set<string>()
  for (const literal of scanLiterals(keysSource)) {
    const prefix = /^[A-Z][A-Z0-9_]*#/.exec(literal.value)?.[0]
    if (prefix) prefixes.add(prefix)
  }
  return [...prefixes].sort()
}
