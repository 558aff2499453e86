import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'

export class LockHeldError extends Error {
  constructor(
    readonly file: string,
    readonly pid: number
  ) {
    super(`${file} is held by process ${pid}`)
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * An exclusive lock file holding this process's pid (created with O_EXCL). A lock left by a
 * process that no longer exists is taken over; one held by a live process → LockHeldError.
 */
export function acquirePidLock(file: string): { release(): void } {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o644 })
      let released = false
      return {
        release() {
          if (released) return
          released = true
          try {
            if (Number(readFileSync(file, 'utf8').trim()) === process.pid) unlinkSync(file)
          } catch {
            // Already gone.
          }
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    let holder = Number.NaN
    try {
      holder = Number(readFileSync(file, 'utf8').trim())
    } catch {
      continue // removed meanwhile: try again
    }
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
      throw new LockHeldError(file, holder)
    }
    // Stale (its process is gone) or unreadable: take it over.
    try {
      unlinkSync(file)
    } catch {
      // Someone else took it over first; the next attempt decides.
    }
  }
  throw new Error(`could not acquire ${file}`)
}
