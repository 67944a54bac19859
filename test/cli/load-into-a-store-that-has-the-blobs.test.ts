/**
 * `tsbuild load` of an OCI archive whose blobs the store already holds (loading the same archive twice, or
 * `save` then `load` on one store): the present blobs are read past, the image is named, exit 0. It used to
 * crash with an uncaught ERR_STREAM_PREMATURE_CLOSE and a stack trace (putBlob destroyed the tar entry).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore } from '../../layer-store/index.js';
import { makeTestImage, validateStoredImage } from '../helpers/validate-image.js';
import { runCli, TSBUILD_LAUNCHER } from '../helpers/cli.js';

test('load of an OCI archive into a store that has its blobs names the image and exits 0, from a file and from stdin', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-load-present-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  const store = await LayerStore.open(root);
  const img = await makeTestImage(store, 'twice:1', [{ 'a/': '', 'a/b': 'b' }, { c: 'c' }], { dir: base });
  const file = join(base, 'twice.tar');
  const saved = runCli(['--root', root, 'save', '-o', file, 'twice:1']);
  assert.equal(saved.code, 0, saved.stderr);

  for (let i = 0; i < 2; i++) {
    const r = runCli(['--root', root, 'load', '-i', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'Loaded image: docker.io/library/twice:1\n');
  }
  const piped = spawnSync(TSBUILD_LAUNCHER, ['--root', root, 'load'], { input: await readFile(file), encoding: 'utf8' });
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(piped.stdout, 'Loaded image: docker.io/library/twice:1\n');

  const after = await LayerStore.open(root);
  assert.equal((await after.resolve('twice:1')).descriptor.digest, img.descriptor.digest);
  await validateStoredImage(after, img.descriptor);
});
