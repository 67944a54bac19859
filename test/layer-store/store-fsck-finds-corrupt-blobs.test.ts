import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore, TsbuildError } from '../../layer-store/index.js';
import { makeTestImage } from '../helpers/validate-image.js';

test('fsck re-hashes every blob, reports corrupt and missing ones, and repair deletes the corrupt', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const img = await makeTestImage(store, 'x', [{ a: 'a' }], { dir: root });
  assert.deepEqual(await store.fsck(), { checked: 3, corrupt: [], missing: [] });
  await appendFile(store.blobPath(img.layers[0]!.digest), 'bitrot');
  // reading through the store notices too
  await assert.rejects(store.readBlob(img.config.digest).then(() => store.readBlob(img.layers[0]!.digest, { maxBytes: 1 << 20 })), (e: unknown) => TsbuildError.is(e) && e.code === 'STORE_CORRUPT');
  assert.deepEqual((await store.fsck()).corrupt, [img.layers[0]!.digest]);
  const r = await store.fsck({ repair: true });
  assert.deepEqual(r.corrupt, [img.layers[0]!.digest]);
  assert.equal(existsSync(store.blobPath(img.layers[0]!.digest)), false);
  assert.deepEqual((await store.fsck()).missing, [img.layers[0]!.digest]);
});
