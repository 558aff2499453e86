import fc from 'fast-check'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { AppError, NO_SUCH_VERSION } from '../../lib/errors.js'
import type { AppEnv } from './env.js'
import { etag, expectedVersion, ifMatchPrecondition, parseIfMatch } from './handlers.js'

describe('parseIfMatch', () => {
  it.each([
    ['*', { any: true }],
    ['  *  ', { any: true }],
    ['"3"', { any: false, tags: [{ weak: false, opaque: '3' }] }],
    ['W/"3"', { any: false, tags: [{ weak: true, opaque: '3' }] }],
    ['""', { any: false, tags: [{ weak: false, opaque: '' }] }],
    [
      '"1" ,\tW/"2",,  "x!#~"',
      {
        any: false,
        tags: [
          { weak: false, opaque: '1' },
          { weak: true, opaque: '2' },
          { weak: false, opaque: 'x!#~' },
        ],
      },
    ],
    // An empty list is syntactically valid (all elements empty) and matches nothing.
    [',', { any: false, tags: [] }],
    ['', { any: false, tags: [] }],
  ])('reads %j', (header, parsed) => {
    expect(parseIfMatch(header)).toEqual(parsed)
  })

  it.each([
    '3', // unquoted
    'w/"3"', // the weak marker is case-sensitive
    'W/ "3"',
    '"3', // unterminated
    '"a"b"',
    '"with space"',
    '"tab\t"',
    '* , "3"', // * stands alone
    '**',
    '"3" "4"', // not comma-separated
  ])('refuses %j', (header) => {
    expect(parseIfMatch(header)).toBeUndefined()
  })

  it('reads back any list of entity tags, however it is spaced', () => {
    const etagc = fc.constantFrom(
      ..."!#$%&'()*+-./0123456789:;<=>?@AZaz[]^_`{|}~".split(''),
      '\x80',
      '\xff'
    )
    const tag = fc.record({ weak: fc.boolean(), opaque: fc.string({ unit: etagc, maxLength: 8 }) })
    const ows = fc.constantFrom('', ' ', '\t', ' \t ')
    fc.assert(
      fc.property(fc.array(fc.tuple(tag, ows, ows, fc.boolean())), (items) => {
        const header = items
          .map(([t, before, after, emptyBefore]) => {
            const element = `${before}${t.weak ? 'W/' : ''}"${t.opaque}"${after}`
            return emptyBefore ? `${before},${element}` : element
          })
          .join(',')
        expect(parseIfMatch(header)).toEqual({ any: false, tags: items.map(([t]) => t) })
      })
    )
  })
})

describe('ifMatchPrecondition / expectedVersion', () => {
  const app = new Hono<AppEnv>()
    .get('/precondition', (c) => c.json({ value: ifMatchPrecondition(c) ?? null }))
    .get('/expected', (c) => c.json({ value: expectedVersion(c) ?? null }))
  app.onError((error, c) => {
    if (!(error instanceof AppError)) throw error
    return c.json({ type: error.type, param: error.param, message: error.message }, 400)
  })
  const ask = async (path: string, ifMatch?: string) => {
    const res = await app.request(
      path,
      ifMatch === undefined ? {} : { headers: { 'if-match': ifMatch } }
    )
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  it('is nothing without the header, and any for *', async () => {
    expect(await ask('/precondition')).toEqual({ status: 200, body: { value: null } })
    expect(await ask('/precondition', '*')).toEqual({ status: 200, body: { value: 'any' } })
    expect(await ask('/expected', '*')).toEqual({ status: 200, body: { value: null } })
  })

  it('is the version an ETag names, strong or weak, as etag() writes it', async () => {
    expect(await ask('/precondition', etag(7))).toEqual({ status: 200, body: { value: 7 } })
    expect(await ask('/expected', 'W/"12"')).toEqual({ status: 200, body: { value: 12 } })
    // The same version twice is still one version.
    expect(await ask('/precondition', '"4", W/"4"')).toEqual({ status: 200, body: { value: 4 } })
    // Tags this API never issues sit beside it harmlessly.
    expect(await ask('/precondition', '"nope", "4"')).toEqual({ status: 200, body: { value: 4 } })
  })

  it('matches nothing for well-formed tags that are no version this API issues', async () => {
    for (const header of ['"nope"', '"03"', '"-1"', '"1e3"', '"1234567890123456"', '""', ',']) {
      expect(await ask('/precondition', header)).toEqual({
        status: 200,
        body: { value: NO_SUCH_VERSION },
      })
    }
  })

  it('refuses a malformed header and two different versions with invalid_request on If-Match', async () => {
    for (const header of ['3', '"3', '"3", "4"']) {
      const { status, body } = await ask('/precondition', header)
      expect(status).toBe(400)
      expect(body).toMatchObject({ type: 'invalid_request', param: 'If-Match' })
    }
  })
})
