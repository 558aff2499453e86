/**
 * Build step (run by infra/bundling.ts after bundling a function that makes Cedar decisions):
 * computes the built-in policies' ids, descriptions, actions and schema JSON from the policy
 * directory given, validates them strictly, and writes the compiled form beside them, so a cold
 * start reads it instead of asking Cedar (functions/authz/builtins.ts).
 *
 *   tsx infra/compile-policies.ts <policy directory>
 */
import { compileBuiltinsInto } from '../functions/authz/builtins.js'
import { loadCedar } from '../functions/authz/cedar.js'

const dir = process.argv[2]
if (!dir) throw new Error('usage: tsx infra/compile-policies.ts <policy directory>')
compileBuiltinsInto(dir, loadCedar())
