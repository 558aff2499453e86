import { describe, expect, it } from 'vitest'
import { toCsv } from './csv.js'

describe('toCsv', () => {
  it('writes a header and CRLF rows, quoting commas, quotes and line breaks', () => {
    expect(
      toCsv(
        ['a', 'b'],
        [
          ['x,y', 'say "hi"'],
          ['line\nbreak', null],
        ]
      )
    ).toBe('a,b\r\n"x,y","say ""hi"""\r\n"line\nbreak",\r\n')
  })

  it('prefixes text that a spreadsheet would run as a formula, but not numbers', () => {
    expect(toCsv(['v'], [['=SUM(A1)'], ['@cmd'], ['+1+1'], ['-1.50'], [-2]])).toBe(
      "v\r\n'=SUM(A1)\r\n'@cmd\r\n'+1+1\r\n-1.50\r\n-2\r\n"
    )
  })

  it('writes objects as JSON', () => {
    expect(toCsv(['o'], [[{ k: 'v' }]])).toBe('o\r\n"{""k"":""v""}"\r\n')
  })
})
