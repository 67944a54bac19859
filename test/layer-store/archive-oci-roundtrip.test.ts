import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LayerStore, loadArchive, saveImages } from '../../layer-store/index.js';
import { makeTestImage, validateStoredImage } from '../helpers/validate-image.js';
import { validateOci } from '../helpers/oci-schema.js';

const run = promisify(execFile);

test('save --format oci writes an oci-archive skopeo reads, and load brings back the same digests', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-archive-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const store = await LayerStore.open(join(base, 'a'));
  const one = await makeTestImage(store, 'one:1', [{ 'x/': '', 'x/y': 'y' }, { z: 'z' }], { dir: base });
  const two = await makeTestImage(store, 'reg.example:5000/two', [{ w: 'w' }], { dir: base });
  const file = join(base, 'images.tar');
  await saveImages(store, ['one:1', 'reg.example:5000/two'], file, { format: 'oci' });
  assert.deepEqual((await readdir(base)).filter((f) => f.endsWith('.tmp')), []);

  const { stdout } = await run('skopeo', ['inspect', `oci-archive:${file}:docker.io/library/one:1`]);
  assert.equal(JSON.parse(stdout).Digest, one.descriptor.digest);
  const { stdout: s2 } = await run('skopeo', ['inspect', `oci-archive:${file}:reg.example:5000/two:latest`]);
  assert.equal(JSON.parse(s2).Digest, two.descriptor.digest);
  const { stdout: listing } = await run('tar', ['-tf', file]);
  assert.ok(listing.includes('oci-layout') && listing.includes(`blobs/sha256/${one.layers[1]!.digest.slice(7)}`));
  const { stdout: idx } = await run('tar', ['-xOf', file, 'index.json']);
  validateOci('index', JSON.parse(idx));

  const store2 = await LayerStore.open(join(base, 'b'));
  const r = await loadArchive(store2, file);
  assert.equal(r.format, 'oci');
  assert.deepEqual(r.images.map((i) => [i.names, i.descriptor.digest]), [
    [['docker.io/library/one:1'], one.descriptor.digest],
    [['reg.example:5000/two:latest'], two.descriptor.digest],
  ]);
  await validateStoredImage(store2, (await store2.resolve('one:1')).descriptor);
  await validateStoredImage(store2, (await store2.resolve('reg.example:5000/two')).descriptor);
});

test('load of a corrupted oci-archive stores no name and leaves only unreferenced blobs', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-archive-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const store = await LayerStore.open(join(base, 'a'));
  const img = await makeTestImage(store, 'one', [{ f: 'content' }], { dir: base });
  // an archive written by skopeo, with the layer blob's bytes changed afterwards
  const dir = join(base, 'layout');
  await run('skopeo', ['copy', '--quiet', `oci:${store.root}:docker.io/library/one:latest`, `oci:${dir}:docker.io/library/one:latest`]);
  const blob = join(dir, 'blobs', 'sha256', img.layers[0]!.digest.slice(7));
  await run('sh', ['-c', `printf 'garbage' | dd of=${blob} bs=1 seek=20 conv=notrunc status=none`]);
  const file = join(base, 'bad.tar');
  await run('tar', ['-cf', file, '-C', dir, 'oci-layout', 'index.json', 'blobs']);
  const store2 = await LayerStore.open(join(base, 'b'));
  await assert.rejects(loadArchive(store2, file), (e: unknown) => (e as { code?: string }).code === 'DIGEST_MISMATCH');
  assert.deepEqual(await store2.listImages(), []);
  assert.ok(!(await store2.hasBlob(img.layers[0]!.digest)));
});
