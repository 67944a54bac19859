import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { randomBytesSeeded, textSeeded } from '../../bench/workloads.js';
import { ThreadHasher } from '../../layer-store/layer/hash-thread.js';
import { packLayer } from '../../layer-store/layer/index.js';
import { packToFile, tmp } from './layer-test-kit.js';

const MB = 1 << 20;

test('ThreadHasher: the SHA-256 of every byte given, in order, across many turns of its ring', async () => {
  const data = randomBytesSeeded(40 * MB + 12_345, 21);
  const h = new ThreadHasher();
  // Chunks of odd sizes (some bigger than the 16 MiB ring), not awaited one by one in the same order of sizes.
  const sizes = [1, 17, 65_536, 3 * MB + 5, 20 * MB, 333, MB];
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - at);
    await h.update(data.subarray(at, at + n));
    at += n;
  }
  assert.equal(h.size, data.length);
  assert.equal(await h.digest(), `sha256:${createHash('sha256').update(data).digest('hex')}`);

  const empty = new ThreadHasher();
  assert.equal(await empty.digest(), `sha256:${createHash('sha256').digest('hex')}`);
  // Given up half way (a failed pack): the thread ends, nothing waits on it.
  const given = new ThreadHasher();
  await given.update(data.subarray(0, 30 * MB));
  await given.close();
});

/** A tree over the threshold of the hashing thread (64 MiB of file data). */
function bigTree(src: string): void {
  mkdirSync(join(src, 'data'), { recursive: true });
  const random = randomBytesSeeded(4 * MB, 31);
  for (let i = 0; i < 17; i++) writeFileSync(join(src, 'data', `f${i}`), Buffer.concat([random, textSeeded(i, 32 + i)]));
  writeFileSync(join(src, 'small'), 'x');
}

test('a layer big enough to hash its tar on a thread has the diffID of its tar and the digest of its blob', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  bigTree(src);
  const file = join(d, 'big.tgz');
  const big = await packToFile(src, file, { xattrs: false });
  const tar = zlib.gunzipSync(readFileSync(file));
  assert.ok(tar.length >= 64 * MB, 'over the threshold of the thread');
  assert.equal(big.diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
  assert.equal(big.uncompressedSize, tar.length);
  assert.equal(big.digest, `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`);
});

test('a big pack whose sink fails ends its hashing thread: the pack rejects and no worker is left', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  bigTree(src);
  // A worker is one more thread of this process.
  const threads = (): number => readdirSync('/proc/self/task').length;
  const before = threads();
  let during = 0;
  const seen = setInterval(() => { during = Math.max(during, threads()); }, 5);
  await assert.rejects(packLayer(src, {
    xattrs: false,
    sink: async (s) => {
      let n = 0;
      for await (const c of s) {
        n += (c as Buffer).length;
        if (n > 8 * MB) throw new Error('disk full');
      }
    },
  }), /disk full/);
  clearInterval(seen);
  assert.ok(during > before, 'the pack ran a thread');
  for (let i = 0; i < 100 && threads() > before; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(threads(), before);
});
