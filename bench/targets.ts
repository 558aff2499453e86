/** Rows of a benchmark's targets table: what was measured, the target, and whether it is met. */
export const TARGET_COLUMNS = ['target', 'measured', 'goal', 'result']

/** One target: `measured` and `goal` already formatted; `met` decides pass/fail. */
export function targetRow(name: string, measured: string, goal: string, met: boolean): string[] {
  return [name, measured, goal, met ? 'pass' : 'FAIL']
}
