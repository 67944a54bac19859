import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LayerStore, digestOf, TsbuildError } from '../../layer-store/index.js';

test('putBlob with a wrong digest fails and never exposes the blob at its final path', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const data = Buffer.alloc(256 * 1024, 7);
  const realDigest = digestOf(data);
  const claimed = digestOf('something else');
  const finalPaths = [store.blobPath(realDigest), store.blobPath(claimed)];
  let reads = 0;
  // containers/image TestPutBlobDigestFailure: check the final paths on every read of the body.
  const body = Readable.from((function* () {
    for (let off = 0; off < data.length; off += 16 * 1024) {
      reads++;
      for (const p of finalPaths) assert.equal(existsSync(p), false, `${p} exists during the write`);
      yield data.subarray(off, off + 16 * 1024);
    }
  })());
  await assert.rejects(store.putBlob(body, { digest: claimed, size: data.length }), (e: unknown) => TsbuildError.is(e) && e.code === 'DIGEST_MISMATCH');
  assert.ok(reads >= 16);
  for (const p of finalPaths) assert.equal(existsSync(p), false);
  assert.deepEqual(await readdir(store.blobsDir), [], 'no temp file is left behind');

  // a wrong size is rejected as soon as too many bytes arrive
  await assert.rejects(store.putBlob(Readable.from([data]), { digest: realDigest, size: 10 }), (e: unknown) => TsbuildError.is(e) && e.code === 'SIZE_MISMATCH');
  assert.deepEqual(await readdir(store.blobsDir), []);

  // and the right digest is stored
  const d = await store.putBlob(Readable.from([data]), { digest: realDigest, size: data.length });
  assert.equal(d.digest, realDigest);
  assert.deepEqual(await readdir(store.blobsDir), [realDigest.slice(7)]);
  assert.deepEqual(await store.readBlob(realDigest, { maxBytes: data.length }), data);
});
