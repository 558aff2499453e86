import { describe, expect, it } from 'vitest'
import { AppError } from '../lib/errors.js'
import { ConditionFailedError } from '../store/db.js'
import { updateVersioned } from './versioning.js'

interface Doc {
  version: number
  name: string
}

/**
 * A record held in memory whose save is conditional on the version, like the store's; `rivals`
 * are writes by other requests that land between this request's read and its save.
 */
function memoryRecord(initial: Doc | undefined, rivals: ((doc: Doc) => Doc)[] = []) {
  let stored = initial
  const calls = { loads: 0, saves: 0 }
  return {
    calls,
    get stored() {
      return stored
    },
    load: async () => {
      calls.loads++
      return stored && { ...stored }
    },
    save: async (next: Doc, expectedVersion: number) => {
      calls.saves++
      const rival = rivals.shift()
      if (rival && stored) stored = rival(stored)
      if (!stored || stored.version !== expectedVersion) throw new ConditionFailedError()
      stored = { ...next, version: expectedVersion + 1 }
      return stored
    },
  }
}

const rename = (name: string) => (doc: Doc) => ({ ...doc, name })
const rivalRename = (name: string) => (doc: Doc) => ({ name, version: doc.version + 1 })
const missing = () => new AppError('not_found', 'No doc.')

const failure = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (error) {
    return error as AppError
  }
  throw new Error('expected the update to fail')
}

describe('updateVersioned', () => {
  it('saves the change against the version it read', async () => {
    const record = memoryRecord({ version: 3, name: 'a' })
    const result = await updateVersioned({ ...record, missing, apply: rename('b') })
    expect(result).toEqual({
      before: { version: 3, name: 'a' },
      after: { version: 4, name: 'b' },
      changed: true,
    })
  })

  it('writes nothing when apply has nothing to change', async () => {
    const record = memoryRecord({ version: 3, name: 'a' })
    const result = await updateVersioned({ ...record, missing, apply: () => undefined })
    expect(result).toEqual({ before: record.stored, after: record.stored, changed: false })
    expect(record.calls.saves).toBe(0)
  })

  it('is the missing error for a record that is not there', async () => {
    const record = memoryRecord(undefined)
    expect((await failure(updateVersioned({ ...record, missing, apply: rename('b') }))).type).toBe(
      'not_found'
    )
  })

  it('is a 412 naming both versions when If-Match names another version, before apply runs', async () => {
    const record = memoryRecord({ version: 3, name: 'a' })
    let applied = false
    const error = await failure(
      updateVersioned({
        ...record,
        missing,
        expectedVersion: 2,
        apply: (doc) => {
          applied = true
          return rename('b')(doc)
        },
      })
    )
    expect([error.type, error.param, error.message]).toEqual([
      'precondition_failed',
      'If-Match',
      'The resource is at version 3, not 2.',
    ])
    expect(applied).toBe(false)
    expect(record.stored).toEqual({ version: 3, name: 'a' })
  })

  it('retries a lost race on fresh data when the caller named no version', async () => {
    const record = memoryRecord({ version: 1, name: 'a' }, [
      rivalRename('rival'),
      rivalRename('rival 2'),
    ])
    const seen: string[] = []
    const result = await updateVersioned({
      ...record,
      missing,
      apply: (doc) => {
        seen.push(doc.name)
        return { ...doc, name: `${doc.name}+mine` }
      },
    })
    expect(seen).toEqual(['a', 'rival', 'rival 2'])
    expect(result.after).toEqual({ version: 4, name: 'rival 2+mine' })
  })

  it('gives up with a 412 after five lost races', async () => {
    const rivals = Array.from({ length: 5 }, (_, i) => rivalRename(`rival ${i}`))
    const record = memoryRecord({ version: 1, name: 'a' }, rivals)
    const error = await failure(updateVersioned({ ...record, missing, apply: rename('mine') }))
    expect([error.type, error.message]).toEqual([
      'precondition_failed',
      'The resource was changed by another request; read it again.',
    ])
    expect(record.calls.saves).toBe(5)
    expect(record.stored?.name).toBe('rival 4')
  })

  it('does not retry a lost race when the caller named the version it saw', async () => {
    const record = memoryRecord({ version: 1, name: 'a' }, [rivalRename('rival')])
    const error = await failure(
      updateVersioned({ ...record, missing, expectedVersion: 1, apply: rename('mine') })
    )
    expect(error.type).toBe('precondition_failed')
    expect(record.calls).toEqual({ loads: 1, saves: 1 })
    expect(record.stored?.name).toBe('rival')
  })

  it('passes on any other failure of the save, and a refusal from apply', async () => {
    const broken = new Error('store down')
    const record = memoryRecord({ version: 1, name: 'a' })
    const save = async () => {
      throw broken
    }
    expect(await failure(updateVersioned({ ...record, save, missing, apply: rename('b') }))).toBe(
      broken
    )
    const refusal = new AppError('conflict', 'no')
    const apply = () => {
      throw refusal
    }
    expect(await failure(updateVersioned({ ...record, missing, apply }))).toBe(refusal)
    expect(record.calls.loads).toBe(2)
  })
})
