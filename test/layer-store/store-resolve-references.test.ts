import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore, TsbuildError, normalizeTagName } from '../../layer-store/index.js';
import { makeTestImage } from '../helpers/validate-image.js';

test('names normalise docker-style', () => {
  assert.equal(normalizeTagName('busybox'), 'docker.io/library/busybox:latest');
  assert.equal(normalizeTagName('me/app:1.2'), 'docker.io/me/app:1.2');
  assert.equal(normalizeTagName('localhost:5000/app'), 'localhost:5000/app:latest');
  assert.equal(normalizeTagName('index.docker.io/library/alpine:3'), 'docker.io/library/alpine:3');
  assert.equal(normalizeTagName('quay.io/a/b/c:v'), 'quay.io/a/b/c:v');
  for (const bad of ['UPPER', 'a b', 'x:', 'x@sha256:12', '']) assert.throws(() => normalizeTagName(bad), (e: unknown) => TsbuildError.is(e) && e.code === 'INVALID_REFERENCE');
});

test('resolve accepts a name, name@digest, manifest digest, image ID and a unique ID prefix', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const img = await makeTestImage(store, 'web:v1', [{ 'index.html': 'hi' }], { dir: root });
  const other = await makeTestImage(store, 'other', [{ 'x': 'y' }], { dir: root });
  const refs = ['web:v1', 'docker.io/library/web:v1', `web@${img.descriptor.digest}`, img.descriptor.digest, img.config.digest, img.config.digest.slice(7, 19), img.descriptor.digest.slice(7)];
  for (const r of refs) {
    const got = await store.resolve(r);
    assert.equal(got.descriptor.digest, img.descriptor.digest, r);
    assert.equal(got.id, img.config.digest);
  }
  assert.deepEqual((await store.resolve('web:v1')).names, ['docker.io/library/web:v1']);
  assert.equal((await store.resolve('other')).descriptor.digest, other.descriptor.digest);
  await assert.rejects(store.resolve('web'), (e: unknown) => TsbuildError.is(e) && e.code === 'IMAGE_NOT_FOUND');
  await assert.rejects(store.resolve('sha256:' + '0'.repeat(64)), (e: unknown) => TsbuildError.is(e) && e.code === 'IMAGE_NOT_FOUND');
  // tag + remove by name keeps the other name; remove by ID with two names needs force
  await store.tag('web:v2', img.descriptor);
  await assert.rejects(store.remove(img.config.digest.slice(7, 19)), (e: unknown) => TsbuildError.is(e) && e.code === 'USAGE');
  const r = await store.remove('web:v1');
  assert.deepEqual(r.untagged, ['docker.io/library/web:v1']);
  assert.deepEqual((await store.resolve(img.descriptor.digest)).names, ['docker.io/library/web:v2']);
  const r2 = await store.remove(img.config.digest.slice(7, 19));
  assert.deepEqual(r2.deleted, [img.descriptor.digest]);
  assert.deepEqual((await store.listImages()).flatMap((e) => e.names), ['docker.io/library/other:latest']);
});
