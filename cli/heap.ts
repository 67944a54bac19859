/**
 * V8's incremental marking, off once a command moves big data. Packing or pulling a big layer churns through GBs
 * of Buffers, and with the CLI's code loaded V8 kept starting incremental marking on its allocation limit: ~95
 * full GCs in a W3 build (a RUN writing 512 MiB), 1.2 CPU s; without it, 2-3, and a lower peak RSS
 * (layer-store/README.md, rebuild speed).
 *
 * Not set at start: a V8 flag changed at run time changes V8's flag hash, and code cached under the other hash
 * is refused. Set when the process starts, Node's own modules loaded afterwards are compiled afresh instead of
 * from its embedded code cache (+9 ms CPU of a cached build); set in cli/bin.ts, it also made the chunks loaded
 * before it write caches every later start refused (+19 ms). So it is set at the first transfer event past
 * BIG_DATA_BYTES (pack, unpack, pull, push, copy), and the chunk loader sets it back to the default before it
 * writes caches (cli/chunk-loader.ts RUNTIME_V8_DEFAULTS), so a cache always carries a fresh process's hash.
 * Pull and push in the library also turn it off while a big blob moves (layer-store/core/gc-mode.ts).
 */
import { incrementalMarkingOff, type BuildEvent } from '../layer-store/core/index.js';

/** The bytes of one transfer from which a command counts as moving big data. */
export const BIG_DATA_BYTES = 16 * 1024 * 1024;

let set = false;

/** Turns incremental marking off (once) when `e` is a transfer of at least BIG_DATA_BYTES. */
export function noteTransfer(e: BuildEvent): void {
  if (set || e.type !== 'transfer' || Math.max(e.current, e.total ?? 0) < BIG_DATA_BYTES) return;
  set = true;
  incrementalMarkingOff(); // for good: a pull's bulkTransfer() release then leaves it off (layer-store/core/gc-mode.ts)
}
