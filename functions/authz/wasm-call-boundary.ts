/**
 * Keeps a call into WebAssembly out of the caller's optimized code (docs/runtime.md).
 *
 * When TurboFan inlines a JS→wasm call into an optimized function and that function's code is
 * invalidated while the wasm runs, V8 deoptimizes the function lazily at that call. Before V8
 * 13 (Node 20 and 22) it cannot rebuild that frame when the export returns a reference
 * (wasm-bindgen's `externref`, as every cedar-wasm export does) and aborts the process with
 * "unreachable code". cedar-wasm makes this likely: each call runs `JSON.parse` inside the wasm
 * to build its answer, which can generalize the field types that the caller's code (reading
 * that answer) depends on.
 *
 * V8 never inlines a call through a Proxy, so the caller's frame waits at an ordinary call, which
 * deoptimizes safely; the wasm call itself then sits in the binding's own one-line function, whose
 * code depends on nothing the call changes.
 */
export function behindCallBoundary<F extends (...args: never[]) => unknown>(fn: F): F {
  return new Proxy(fn, {})
}
