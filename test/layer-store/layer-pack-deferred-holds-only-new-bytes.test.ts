import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { test } from 'node:test';
import { diffToLayerDeferred } from '../../layer-store/layer/index.js';
import { LayerStore } from '../../layer-store/index.js';
import { packToFile, tmp, reuseOf, settle } from './layer-test-kit.js';
import { randomBytesSeeded, textSeeded } from '../../bench/workloads.js';

/** Writes `n` files, four in five seeded random bytes and the rest text, in nested directories. */
function tree(root: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const rel = `pkg${i % 20}/lib/f${i}.bin`;
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), i % 5 === 0 ? textSeeded(3000 + (i * 53) % 6000, i) : randomBytesSeeded(3000 + (i * 71) % 9000, i));
  }
}



// layer-store/layer/pack.ts diffToLayerDeferred: the diffID first, the blob when asked; segments taken from the
// previous blob are held as where they lie and read again then. The blob must be exactly a fresh pack's, whether the
// pack was deferred or went on at once (more new bytes than the limit), and an old blob that reads differently the
// second time must fail the pack and leave nothing in the store.
test('a deferred pack holds only new bytes, writes a fresh pack\'s blob, and fails cleanly when the old blob changes', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  tree(src, 1200);
  await settle();
  const first = await packToFile(src, join(d, 'first.tgz'), { xattrs: false });
  appendFileSync(join(src, 'pkg9/lib/f1009.bin'), 'edited\n');
  await settle();
  const fresh = await packToFile(src, join(d, 'fresh.tgz'), { xattrs: false });
  const n = first.segments!.segments.length;
  assert.ok(n >= 20, `enough segments (${n})`);

  const store = await LayerStore.open(join(d, 'store'));
  const sink = { sink: (b: Readable) => store.putBlob(b), xattrs: false as const };
  // Deferred: one segment is new (a few KiB), every other one is held as its place in first.tgz.
  const deferred = await diffToLayerDeferred(src, { ...sink, reuse: await reuseOf(t, join(d, 'first.tgz'), first.segments!) }, 1 << 20);
  assert.equal(deferred.diffId, fresh.diffId, 'the diffID is known before the blob is made');
  assert.equal(await store.hasBlob(fresh.digest), false, 'no blob yet');
  const packed = await deferred.compress();
  assert.equal(packed.digest, fresh.digest, 'the same blob as a fresh pack');
  assert.ok(packed.unread >= n - 3 && packed.reused >= n - 3, `the unchanged segments taken unread (${packed.unread}/${packed.reused} of ${n})`);
  assert.equal(readFileSync(store.blobPath(packed.digest)).equals(readFileSync(join(d, 'fresh.tgz'))), true);

  // Over the limit (0 bytes may be held): packed at once, the same blob.
  const store2 = await LayerStore.open(join(d, 'store2'));
  const atOnce = await diffToLayerDeferred(src, { sink: (b) => store2.putBlob(b), xattrs: false, reuse: await reuseOf(t, join(d, 'first.tgz'), first.segments!) }, 0);
  assert.equal(await store2.hasBlob(fresh.digest), true, 'packed before diffToLayerDeferred returned');
  assert.equal((await atOnce.compress()).digest, fresh.digest);

  // The old blob changes between the two reads (a byte of a segment's deflate data): compress() fails, and the
  // store keeps no blob and no temp file.
  const store3 = await LayerStore.open(join(d, 'store3'));
  copyFileSync(join(d, 'first.tgz'), join(d, 'changing.tgz'));
  const changing = await diffToLayerDeferred(src, { sink: (b) => store3.putBlob(b), xattrs: false, reuse: await reuseOf(t, join(d, 'changing.tgz'), first.segments!) }, 1 << 20);
  const bytes = readFileSync(join(d, 'changing.tgz'));
  const at = 10 + first.segments!.segments[0]!.clen + Math.floor(first.segments!.segments[1]!.clen / 2);
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(join(d, 'changing.tgz'), bytes);
  await assert.rejects(changing.compress(), /read differently the second time/);
  assert.equal(await store3.hasBlob(fresh.digest), false);
  const report = await store3.fsck();
  assert.equal(report.consistent, true, JSON.stringify(report.findings));
  assert.deepEqual(readdirSync(join(d, 'store3', 'blobs', 'sha256')), [], 'no temp blob left');
});
