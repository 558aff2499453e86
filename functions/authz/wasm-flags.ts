import { setFlagsFromString } from 'node:v8'

// TurboFan never inlines a JS→wasm call, so no optimized frame ever waits at one: belt and
// braces with wasm-call-boundary.ts, for any code that calls a wasm export directly. The flag
// is read by each optimization job, so setting it at run time works (see bench/wasm-lazy-deopt.ts
// and docs/runtime.md); imported before cedar-wasm so it holds from the first call on.
setFlagsFromString('--no-turbo-inline-js-wasm-calls')
