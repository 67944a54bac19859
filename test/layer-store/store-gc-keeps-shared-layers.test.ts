import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore } from '../../layer-store/index.js';
import { makeTestImage, validateStoredImage } from '../helpers/validate-image.js';

test('gc removes dangling images and unreferenced blobs but keeps a layer shared with a named image', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const base = { 'etc/': '', 'etc/os-release': 'ID=test\n' };
  const a = await makeTestImage(store, 'app-a', [base, { 'a.txt': 'a' }], { dir: root });
  const b = await makeTestImage(store, 'app-b', [base, { 'b.txt': 'b' }], { dir: root });
  assert.equal(a.layers[0]!.digest, b.layers[0]!.digest, 'the base layer is shared');
  // a stale temp blob and a leftover blob nobody references
  const junk = await store.putBytes(Buffer.from('junk'));
  // retagging app-b leaves the old app-b dangling
  const b2 = await makeTestImage(store, 'app-b', [base, { 'b.txt': 'b2' }], { dir: root });
  const dangling = (await store.listImages()).filter((e) => e.names.length === 0);
  assert.deepEqual(dangling.map((e) => e.descriptor.digest), [b.descriptor.digest]);

  // an untagged image kept alive by a gc root (as the cache keeps its records), and a root that is a plain blob
  const held = await makeTestImage(store, 'held', [{ 'h.txt': 'held' }], { dir: root });
  await store.untag('held');
  const heldBlob = await store.putBytes(Buffer.from('raw cache blob'));
  assert.equal(await store.untag('app-a'), true);
  await writeFile(join(store.snapshotsDir, a.diffIds[1]!.slice(7)), ''); // a fake snapshot of a removed layer
  const r = await store.gc({ roots: [held.descriptor.digest, heldBlob.digest] });
  for (const d of [held.descriptor.digest, held.config.digest, held.layers[0]!.digest, heldBlob.digest]) assert.ok(existsSync(store.blobPath(d)), `root ${d} kept`);
  assert.deepEqual(r.removedImages, [b.descriptor.digest]);
  for (const d of [junk.digest, a.descriptor.digest, a.config.digest, a.layers[1]!.digest, b.descriptor.digest, b.layers[1]!.digest]) {
    assert.ok(r.removedBlobs.includes(d), `${d} should be removed`);
    assert.equal(existsSync(store.blobPath(d)), false);
  }
  assert.deepEqual(r.removedSnapshots, [a.diffIds[1]]);
  // the shared base layer survives with app-b:latest, which is still complete
  assert.ok(existsSync(store.blobPath(a.layers[0]!.digest)));
  await validateStoredImage(store, b2.descriptor);
  assert.deepEqual((await store.listImages()).flatMap((e) => e.names), ['docker.io/library/app-b:latest']);
  // a second gc finds nothing
  const again = await store.gc({ roots: [held.descriptor.digest, heldBlob.digest] });
  assert.deepEqual([again.removedBlobs.length, again.removedImages.length], [0, 0]);
  assert.equal((await store.gc()).removedBlobs.length, 4, 'without the roots their blobs go');
});
