/**
 * V8's incremental marking, off while bulk bytes move. Streaming hundreds of MiB through Buffers makes V8 start
 * incremental marking again and again on its allocation limit (~95 full GCs in a 512 MiB RUN; +0.2 s of CPU in
 * a 1 GiB pull); without it, a few full GCs. But any V8 flag changed at run time also changes the flag hash
 * that V8 checks code caches against: Node's own modules loaded afterwards compile from source instead of
 * from its embedded cache, and the CLI's chunk caches made at exit no longer match the next start (the chunks
 * loaded before the flag are compiled afresh and rewritten every run). For a small pull that was 60 ms of its
 * 200 ms of CPU. So nothing sets it at start: the CLI turns it off for good at a command's first transfer of
 * 16 MiB or more (`incrementalMarkingOff`, from cli/heap.ts), and pull and push turn it off only around their
 * bulk transfers themselves (`bulkTransfer`), after which the defaults and the hash are back.
 */
import { setFlagsFromString } from 'node:v8';

/** A blob of at least this many bytes is moved as a bulk transfer (registry-client: pull and push). */
export const BULK_TRANSFER_BYTES = 32 * 1024 * 1024;

let forGood = false;
let holders = 0;

/** Turns incremental marking off for the rest of the process. */
export function incrementalMarkingOff(): void {
  forGood = true;
  setFlagsFromString('--no-incremental-marking');
}

/**
 * Turns incremental marking off until the returned function is called (idempotent); nested and concurrent
 * holds keep it off until the last is released. Nothing happens after `incrementalMarkingOff`.
 */
export function bulkTransfer(): () => void {
  if (forGood) return () => undefined;
  if (holders++ === 0) setFlagsFromString('--no-incremental-marking');
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0 && !forGood) setFlagsFromString('--incremental-marking');
  };
}
