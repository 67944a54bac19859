// Attack: an absolute entry name pointing at a host path. Policy: rejected (not stripped as GNU tar does).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer, UnsafeLayerEntryError } from '../../layer-store/layer/index.js';
import { hostileTar, sandbox, Readable } from './layer-test-kit.js';

test('an absolute entry name is rejected and the host path is untouched', async (t) => {
  const s = sandbox(t);
  const before = s.outsideState();
  const abs = join(s.outside, 'pwned');
  const tar = await hostileTar([{ header: { name: abs, type: 'file' }, body: 'pwned' }]);
  await assert.rejects(applyLayer(Readable.from([tar]), s.target), (e: unknown) =>
    e instanceof UnsafeLayerEntryError && e.reason === 'absolute-path');
  assert.equal(existsSync(abs), false);
  assert.equal(existsSync(join(s.target, abs)), false, 'not stripped-and-written either');
  assert.deepEqual(s.outsideState(), before);
});

test('an absolute directory entry and an absolute symlink name are rejected too', async (t) => {
  const s = sandbox(t);
  const before = s.outsideState();
  for (const header of [
    { name: join(s.outside, 'newdir/'), type: 'directory' as const },
    { name: join(s.outside, 'lnk'), type: 'symlink' as const, linkname: '/etc/passwd' },
  ]) {
    const tar = await hostileTar([{ header }]);
    await assert.rejects(applyLayer(Readable.from([tar]), s.target), UnsafeLayerEntryError);
  }
  assert.deepEqual(s.outsideState(), before);
});
