import { existsSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waits (polling every 100 ms, at most 30 s) until the file at `path` holds at least `minBytes` and has stopped
 * growing: e.g. a segment speculator's scratch file once every queued segment is written.
 */
export async function waitUntilSettled(path: string, minBytes: number): Promise<void> {
  let size = -1;
  for (let i = 0; i < 300; i++) {
    await sleep(100);
    const now = existsSync(path) ? statSync(path).size : 0;
    if (now >= minBytes && now === size) return;
    size = now;
  }
}
