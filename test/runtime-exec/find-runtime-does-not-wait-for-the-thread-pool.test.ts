import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findRuntime } from '../../runtime-exec/index.js';

// A build looks runc up at its first RUN, while the layer before it is compressed behind it: the thread pool is then
// busy with that layer's deflate, writes and fsync. The lookup must not queue behind them (it did, with an async
// access(2) per PATH dir: 25-40 ms before a W1 edit's RUN could mount). Here every thread of the pool is held by an
// open(2) of a FIFO that has no writer yet; the lookup must still finish.
test('findRuntime finds runc while every thread of the thread pool is busy', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-find-pool-'));
  const fifos = Array.from({ length: 8 }, (_, i) => join(dir, `f${i}`)); // more than the pool's 4 threads
  for (const f of fifos) execFileSync('mkfifo', [f]);
  const held = fifos.map((f) => open(f, 'r')); // each blocks a pool thread until the FIFO has a writer
  const writers: number[] = [];
  t.after(async () => {
    // A writer (O_RDWR never blocks on a FIFO) lets every pending open finish; then all of it is closed and removed.
    for (const f of fifos) writers.push(openSync(f, 'r+'));
    for (const h of await Promise.all(held)) await h.close();
    for (const w of writers) closeSync(w);
    rmSync(dir, { recursive: true, force: true });
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), 3000); });
  const found = await Promise.race([findRuntime(), timeout]);
  clearTimeout(timer);
  assert.notEqual(found, 'timeout', 'findRuntime waited for the thread pool');
  assert.equal(typeof found === 'object' ? found.name : undefined, 'runc');
});
