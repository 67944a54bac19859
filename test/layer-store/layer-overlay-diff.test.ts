import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer, diffToLayer } from '../../layer-store/layer/index.js';
import { packToFile, tmp, sh, open, listTree, gnuTarList } from './layer-test-kit.js';

function mountOverlay(lower: string, upper: string, work: string, merged: string): void {
  sh(`mount -t overlay overlay -o lowerdir=${lower},upperdir=${upper},workdir=${work} ${merged}`);
}

test('an overlayfs upper dir becomes a layer with OCI whiteouts, which applies and stacks back to the merged view', async (t) => {
  const d = tmp(t);
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((n) => join(d, n)) as [string, string, string, string];
  for (const p of [lower, upper, work, merged]) mkdirSync(p);
  mkdirSync(join(lower, 'etc'));
  mkdirSync(join(lower, 'data/sub'), { recursive: true });
  mkdirSync(join(lower, 'opt/tool'), { recursive: true });
  writeFileSync(join(lower, 'etc/keep'), 'keep');
  writeFileSync(join(lower, 'etc/remove-me'), 'bye');
  writeFileSync(join(lower, 'data/a'), 'a');
  writeFileSync(join(lower, 'data/sub/b'), 'b');
  writeFileSync(join(lower, 'opt/tool/bin'), 'bin');

  let mounted = false;
  let expected: string[];
  try {
    mountOverlay(lower, upper, work, merged);
    mounted = true;
    // A RUN-like change: delete a lower file, replace a directory, remove a whole tree, add a file.
    sh(`cd ${merged} && rm etc/remove-me && rm -rf data && mkdir data && echo new > data/c && rm -rf opt && echo z > newfile`);
    expected = listTree(merged);
  } finally {
    if (mounted) sh(`umount ${merged}`);
  }
  assert.ok(sh(`stat -c %F ${join(upper, 'etc/remove-me')}`).includes('character special'), 'overlay left a 0/0 char device');

  const layerFile = join(d, 'diff.tar');
  const layer = await packToFile(upper, layerFile, { compression: 'none' }, true);
  const names = gnuTarList(layerFile).trim().split('\n').map((l) => l.split(/\s+/).slice(5).join(' '));
  assert.ok(names.includes('etc/.wh.remove-me'), names.join('\n'));
  assert.ok(names.includes('.wh.opt'), names.join('\n'));
  assert.ok(names.includes('data/.wh..wh..opq'), names.join('\n'));
  assert.ok(names.indexOf('data/.wh..wh..opq') === names.indexOf('data/') + 1, 'opaque marker right after its directory');
  assert.ok(!names.some((n) => n.endsWith('remove-me') && !n.includes('.wh.')), 'no char device entry');
  assert.ok(!readFileSync(layerFile).includes('trusted.overlay'), 'overlay xattrs are not copied into the layer');

  // 'apply' mode: onto a flattened copy of the lower layer gives the merged view.
  const flat = join(d, 'flat');
  sh(`cp -a ${lower} ${flat}`);
  const r = await applyLayer(open(layerFile), flat, { whiteouts: 'apply' });
  assert.equal(r.diffId, layer.diffId);
  assert.deepEqual(listTree(flat), expected);

  // 'overlay' mode: snapshots keyed by diffID stack directly as overlay lowerdirs.
  const baseFile = join(d, 'base.tar.gz');
  await packToFile(lower, baseFile, { compression: 'gzip' });
  const [snap1, snap2, m2] = ['snap1', 'snap2', 'm2'].map((n) => join(d, n)) as [string, string, string];
  for (const p of [snap1, snap2, m2]) mkdirSync(p);
  await applyLayer(open(baseFile), snap1, { whiteouts: 'overlay' });
  await applyLayer(open(layerFile), snap2, { whiteouts: 'overlay' });
  assert.match(sh(`getfattr -n trusted.overlay.opaque ${join(snap2, 'data')}`), /="y"/);
  sh(`mount -t overlay overlay -o lowerdir=${snap2}:${snap1} ${m2}`);
  try {
    assert.deepEqual(listTree(m2), expected);
  } finally {
    sh(`umount ${m2}`);
  }
});
