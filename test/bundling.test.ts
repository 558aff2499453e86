/**
 * What the Lambda bundles take in place of a package (infra/bundling.ts, bundleAliases): zod
 * without its locales must be zod, every other export the very same binding, so the bundles
 * validate exactly as the tests run. test/bundle-smoke.test.ts checks the built API's messages.
 */
import { pathToFileURL } from 'node:url'
import { expect, it } from 'vitest'
import * as zod from 'zod'
import { zodWithoutLocales } from '../infra/bundling.js'

type Namespace = Record<string, unknown>

it("bundles zod less its locales, every other export zod's own", async () => {
  const bundled = (await import(pathToFileURL(zodWithoutLocales()).href)) as Namespace
  const real = zod as unknown as Namespace
  const withoutLocales = (ns: Namespace) => Object.keys(ns).filter((name) => name !== 'locales')
  expect(Object.keys(bundled).sort()).toEqual(withoutLocales(real).sort())
  const namespaces = ['z', 'default', 'core']
  for (const name of withoutLocales(real).filter((n) => !namespaces.includes(n))) {
    expect(bundled[name], name).toBe(real[name])
  }
  const z = bundled.z as Namespace
  expect(bundled.default).toBe(z)
  expect(Object.keys(z).sort()).toEqual(withoutLocales(zod.z as unknown as Namespace).sort())
  const core = z.core as Namespace
  const realCore = zod.z.core as unknown as Namespace
  expect(Object.keys(core).sort()).toEqual(withoutLocales(realCore).sort())
  for (const name of withoutLocales(realCore))
    expect(core[name], `core.${name}`).toBe(realCore[name])
  expect(z.locales).toBeUndefined()
  // English is still the default: ZodType registers it on first construction.
  const parsed = (z.object as typeof zod.object)({ name: zod.string() }).safeParse({ name: 5 })
  expect(parsed.error?.issues[0]?.message).toBe('Invalid input: expected string, received number')
})
