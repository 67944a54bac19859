import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore, TsbuildError } from '../../layer-store/index.js';
import { makeTestImage } from '../helpers/validate-image.js';

test('fsck re-hashes every blob, reports corrupt ones and the images using them, and repair deletes both', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const img = await makeTestImage(store, 'x', [{ a: 'a' }], { dir: root });
  const clean = await store.fsck();
  assert.deepEqual({ checked: clean.checked, corrupt: clean.corrupt, missing: clean.missing, findings: clean.findings, consistent: clean.consistent },
    { checked: 3, corrupt: [], missing: [], findings: [], consistent: true });
  await appendFile(store.blobPath(img.layers[0]!.digest), 'bitrot');
  // reading through the store notices too
  await assert.rejects(store.readBlob(img.config.digest).then(() => store.readBlob(img.layers[0]!.digest, { maxBytes: 1 << 20 })), (e: unknown) => TsbuildError.is(e) && e.code === 'STORE_CORRUPT');
  const bad = await store.fsck();
  assert.deepEqual(bad.corrupt, [img.layers[0]!.digest]);
  assert.equal(bad.consistent, false);
  assert.deepEqual(bad.findings.map((f) => f.kind).sort(), ['broken-image', 'corrupt-blob', 'missing-blob']);
  const r = await store.fsck({ repair: true });
  assert.deepEqual(r.corrupt, [img.layers[0]!.digest]);
  assert.equal(r.consistent, true, 'every problem was repaired');
  assert.equal(existsSync(store.blobPath(img.layers[0]!.digest)), false);
  assert.deepEqual((await store.listImages()).map((e) => e.names), [], 'the tag of the broken image is gone');
  const after = await store.fsck();
  assert.deepEqual({ findings: after.findings, consistent: after.consistent }, { findings: [], consistent: true });
});
