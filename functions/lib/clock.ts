/** The source of "now"; injected so tests can move time. */
export interface Clock {
  now(): Date
}

export const systemClock: Clock = { now: () => new Date() }

export function toIso(date: Date): string {
  return date.toISOString()
}

export function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000)
}

export const DAY_MS = 24 * 60 * 60 * 1000
