import { describe, expect, it } from 'vitest'
import { MAX_NESTING_DEPTH, walkNesting } from './group-nesting.js'

/** Parents by group id; a group not listed is absent. */
function walk(parents: Record<string, string[]>, start: string[], seen: string[] = []) {
  const levels: string[][] = []
  const result = walkNesting(
    start,
    async (ids) => {
      levels.push(ids)
      return new Map(ids.filter((id) => id in parents).map((id) => [id, parents[id]!]))
    },
    (up) => up,
    seen
  )
  return result.then((reached) => ({
    paths: Object.fromEntries([...reached].map(([id, { path }]) => [id, path])),
    levels,
  }))
}

describe('walkNesting', () => {
  it('reads one level at a time and gives each group a shortest path', async () => {
    // a ⊂ b ⊂ c, a ⊂ c directly, d ⊂ c; a and d are where the walk starts.
    const { paths, levels } = await walk({ a: ['b', 'c'], b: ['c'], c: [], d: ['c'] }, [
      'a',
      'd',
      'a',
    ])
    expect(levels).toEqual([
      ['a', 'd'],
      ['b', 'c'],
    ])
    expect(paths).toEqual({ a: ['a'], d: ['d'], b: ['a', 'b'], c: ['a', 'c'] })
  })

  it('leaves out absent groups and what only they lead to, and reads nothing twice', async () => {
    const { paths, levels } = await walk({ a: ['gone', 'b'], b: ['gone'] }, ['a'])
    expect(paths).toEqual({ a: ['a'], b: ['a', 'b'] })
    expect(levels).toEqual([['a'], ['gone', 'b']])
  })

  it('ends on a cycle and never reads an id given as seen', async () => {
    const { paths, levels } = await walk({ a: ['b'], b: ['c'], c: ['a'] }, ['b'], ['a'])
    expect(paths).toEqual({ b: ['b'], c: ['b', 'c'] })
    expect(levels).toEqual([['b'], ['c']])
  })

  it(`follows ${MAX_NESTING_DEPTH} levels and no more`, async () => {
    const n = MAX_NESTING_DEPTH + 3
    const parents = Object.fromEntries(
      Array.from({ length: n }, (_, i) => [`g${i}`, i + 1 < n ? [`g${i + 1}`] : []])
    )
    const { paths, levels } = await walk(parents, ['g0'])
    expect(levels).toHaveLength(MAX_NESTING_DEPTH)
    expect(Object.keys(paths)).toEqual(Array.from({ length: MAX_NESTING_DEPTH }, (_, i) => `g${i}`))
  })

  it('reads nothing when there is nowhere to start', async () => {
    expect(await walk({}, [])).toEqual({ paths: {}, levels: [] })
  })
})
