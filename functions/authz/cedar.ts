/**
 * cedar-wasm as the engine calls it: every export behind a call boundary, with V8's JS→wasm call
 * inlining off, so a lazy deoptimization can never land on an inlined wasm call (the abort
 * described in docs/runtime.md). Import Cedar from here, not from the package.
 */
import './wasm-flags.js'
import * as wasm from '@cedar-policy/cedar-wasm/nodejs'
import { behindCallBoundary } from './wasm-call-boundary.js'

export type {
  AuthorizationAnswer,
  CedarValueJson,
  DetailedError,
  EntityJson,
} from '@cedar-policy/cedar-wasm/nodejs'

export const getValidRequestEnvsPolicy = behindCallBoundary(wasm.getValidRequestEnvsPolicy)
export const policySetTextToParts = behindCallBoundary(wasm.policySetTextToParts)
export const policyToJson = behindCallBoundary(wasm.policyToJson)
export const preparsePolicySet = behindCallBoundary(wasm.preparsePolicySet)
export const preparseSchema = behindCallBoundary(wasm.preparseSchema)
export const schemaToJson = behindCallBoundary(wasm.schemaToJson)
export const statefulIsAuthorized = behindCallBoundary(wasm.statefulIsAuthorized)
export const validate = behindCallBoundary(wasm.validate)
