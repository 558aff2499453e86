/** RFC 4180 CSV: fields containing a comma, quote or line break are quoted, quotes doubled. */
export function toCsv(header: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  return csvLines([header, ...rows])
}

/** Rows as CSV lines, each ending in CRLF (a streamed file is its chunks concatenated). */
export function csvLines(rows: ReadonlyArray<readonly unknown[]>): string {
  let text = ''
  for (const row of rows) text += `${row.map(csvField).join(',')}\r\n`
  return text
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return ''
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value)
  // Text starting with =,+,-,@ would be read as a formula by spreadsheet apps (CSV injection);
  // numbers, including negative decimal strings, are left as they are.
  const isFormulaLike =
    typeof value === 'string' && /^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)
  const safe = isFormulaLike ? `'${text}` : text
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe
}
