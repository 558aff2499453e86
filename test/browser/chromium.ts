import { existsSync } from 'node:fs'

/**
 * The Chromium the browser tests drive: Debian's `chromium` package (`.ci/run` installs it when
 * missing), or CHROMIUM_PATH. A missing browser fails the tests with how to get one: they are
 * never skipped.
 */
export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
  if (!existsSync(path)) {
    throw new Error(
      `No Chromium at ${path}: install it (apt-get install -y chromium) or set CHROMIUM_PATH.`
    )
  }
  return path
}
