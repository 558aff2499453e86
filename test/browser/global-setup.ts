import { buildConsole } from '../../scripts/build-console.js'

/** The console the local server serves (console/dist), built from the sources under test. */
export default async function setup(): Promise<void> {
  await buildConsole()
}
