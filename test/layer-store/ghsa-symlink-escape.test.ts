// Attack: plant a symlink pointing outside, then write through it (CVE-2021-32803/-37701 class in node-tar).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer, UnsafeLayerEntryError } from '../../layer-store/layer/index.js';
import { hostileTar, sandbox, Readable } from './layer-test-kit.js';

test('a relative symlink planted earlier in the tar cannot be written through to outside the target', async (t) => {
  const s = sandbox(t);
  const before = s.outsideState();
  const tar = await hostileTar([
    { header: { name: 'esc', type: 'symlink', linkname: '../outside' } },
    { header: { name: 'esc/pwned', type: 'file' }, body: 'pwned' },
  ], { gzip: true });
  await assert.rejects(applyLayer(Readable.from([tar]), s.target), (e: unknown) =>
    e instanceof UnsafeLayerEntryError && e.reason === 'symlink-escape' && e.entry === 'esc/pwned');
  assert.equal(existsSync(join(s.outside, 'pwned')), false);
  assert.deepEqual(s.outsideState(), before);
});

test('a symlink already in the target (from a lower layer) that points outside is not followed', async (t) => {
  const s = sandbox(t);
  symlinkSync('../../outside', join(s.target, 'lower-link'));
  const before = s.outsideState();
  const tar = await hostileTar([{ header: { name: 'lower-link/pwned', type: 'file' }, body: 'pwned' }]);
  await assert.rejects(applyLayer(Readable.from([tar]), s.target), (e: unknown) =>
    e instanceof UnsafeLayerEntryError && e.reason === 'symlink-escape');
  assert.deepEqual(s.outsideState(), before);
});

test('an absolute symlink is resolved inside the target, as in the container (chroot semantics)', async (t) => {
  const s = sandbox(t);
  const before = s.outsideState();
  const tar = await hostileTar([
    { header: { name: 'abs', type: 'symlink', linkname: s.outside } },
    { header: { name: 'abs/pwned', type: 'file' }, body: 'contained' },
  ]);
  await applyLayer(Readable.from([tar]), s.target);
  assert.equal(existsSync(join(s.outside, 'pwned')), false);
  assert.equal(readFileSync(join(s.target, s.outside, 'pwned'), 'utf8'), 'contained');
  assert.deepEqual(s.outsideState(), before);
});

test('a file entry at the path of a symlink replaces the symlink instead of writing through it', async (t) => {
  const s = sandbox(t);
  const before = s.outsideState();
  const tar = await hostileTar([
    { header: { name: 'victim', type: 'symlink', linkname: join(s.outside, 'canary') } },
    { header: { name: 'victim', type: 'file' }, body: 'overwritten?' },
  ]);
  await applyLayer(Readable.from([tar]), s.target);
  assert.equal(readFileSync(join(s.outside, 'canary'), 'utf8'), 'canary\n');
  assert.ok(lstatSync(join(s.target, 'victim')).isFile());
  assert.deepEqual(s.outsideState(), before);
});
