import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore } from '../../layer-store/index.js';
import { makeTestImage } from '../helpers/validate-image.js';

test('snapshot(diffId) unpacks a layer once under snapshots/<hex> and shares it between images', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const base = { 'etc/': '', 'etc/hostname': 'box\n' };
  const a = await makeTestImage(store, 'a', [base, { 'a.txt': 'a' }], { dir: root });
  const b = await makeTestImage(store, 'b', [base], { dir: root });
  assert.equal(a.diffIds[0], b.diffIds[0]);
  const [p1, p2] = await Promise.all([store.snapshot(a.diffIds[0]!), store.snapshot(b.diffIds[0]!)]);
  assert.equal(p1, join(root, 'snapshots', a.diffIds[0]!.slice(7)));
  assert.equal(p1, p2);
  assert.equal(await readFile(join(p1, 'etc', 'hostname'), 'utf8'), 'box\n');
  const ino = (await stat(p1)).ino;
  assert.equal(await store.snapshot(a.diffIds[0]!), p1);
  assert.equal((await stat(p1)).ino, ino, 'created once, not re-created');
  const top = await store.snapshot(a.diffIds[1]!);
  assert.deepEqual(await readdir(top), ['a.txt']);
  assert.deepEqual((await readdir(store.snapshotsDir)).sort(), [a.diffIds[0]!.slice(7), a.diffIds[1]!.slice(7)].sort(), 'no temp dirs left');
});
