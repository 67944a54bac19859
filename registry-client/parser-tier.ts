/**
 * (Used for the proxy routes only, the ones that still go through undici: dispatchers.ts. A direct route is Node's
 * own HTTP client, http1.ts, whose llhttp is compiled in.)
 * undici parses HTTP with llhttp compiled to WebAssembly, once per process, when its first connection opens.
 * V8 compiles it with Liftoff (its baseline compiler) and then, as the parser gets hot, recompiles its
 * functions with TurboFan on background threads, and a process does not exit before those compilations end.
 * For a registry command that is pure cost: a small pull spent ~0.1 s of CPU on it (~40 ms while it ran and
 * ~70 ms waited for at exit, out of ~0.3 s), and a 1 GiB pull ran no faster with TurboFan's code (its bodies
 * are handed over in large spans, the parser's hot loop is the headers). So the first request is sent with
 * V8's `--liftoff-only` set, which makes the module compile without tier-up, and V8's defaults are back once
 * that request settles (the module is compiled by then, and stays Liftoff code; later WebAssembly, if any,
 * compiles as usual). Measured with undici alone against distribution: a 5-blob pull 0.31 → 0.20 s CPU, T1's
 * 1 GiB 1.35 → 1.23 s. V8 flags
 * changed after start-up do not change the flag hash code caches are checked against (checked: a cache made
 * before still loads). Nothing is changed when the process was started with a wasm or Liftoff flag of its own.
 */
import { setFlagsFromString } from 'node:v8';

let done = false;

/** Returns `send()`'s result; the first call in the process runs it with llhttp compiled by Liftoff only. */
export async function withBaselineParser<T>(send: () => Promise<T>): Promise<T> {
  if (done) return send();
  done = true;
  if (userWasmFlags()) return send();
  setFlagsFromString('--liftoff-only');
  try {
    return await send();
  } finally {
    // --liftoff-only also turned these two off (V8's implications); all three back to V8's defaults.
    setFlagsFromString('--no-liftoff-only --wasm-tier-up --wasm-dynamic-tiering');
  }
}

function userWasmFlags(): boolean {
  return [...process.execArgv, process.env['NODE_OPTIONS'] ?? ''].some((a) => /liftoff|wasm/.test(a));
}
