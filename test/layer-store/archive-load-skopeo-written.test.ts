import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LayerStore, loadArchive } from '../../layer-store/index.js';
import { makeTestImage, validateStoredImage } from '../helpers/validate-image.js';

const run = promisify(execFile);

test('load reads docker-archive and oci-archive files written by skopeo (an independent writer)', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-archive-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const store = await LayerStore.open(join(base, 'a'));
  const img = await makeTestImage(store, 'src:1', [{ 'd/': '', 'd/f': 'one' }, { g: 'two' }], { dir: base });
  const src = `oci:${store.root}:docker.io/library/src:1`;

  const dockerFile = join(base, 'd.tar');
  await run('skopeo', ['copy', '--quiet', src, `docker-archive:${dockerFile}:example.com/team/app:2`]);
  const s1 = await LayerStore.open(join(base, 'b'));
  const r1 = await loadArchive(s1, dockerFile);
  assert.equal(r1.format, 'docker');
  assert.deepEqual(r1.images[0]!.names, ['example.com/team/app:2']);
  const got1 = await s1.image('example.com/team/app:2');
  assert.equal(got1.id, img.config.digest);
  assert.deepEqual(got1.config.rootfs.diff_ids, img.diffIds);
  await validateStoredImage(s1, got1.descriptor);

  const ociFile = join(base, 'o.tar');
  await run('skopeo', ['copy', '--quiet', src, `oci-archive:${ociFile}:example.com/team/app:3`]);
  const s2 = await LayerStore.open(join(base, 'c'));
  const r2 = await loadArchive(s2, ociFile);
  assert.equal(r2.format, 'oci');
  assert.deepEqual(r2.images[0]!.names, ['example.com/team/app:3']);
  assert.equal(r2.images[0]!.descriptor.digest, img.descriptor.digest);
  await validateStoredImage(s2, r2.images[0]!.descriptor);
});
