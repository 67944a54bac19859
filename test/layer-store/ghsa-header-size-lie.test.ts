// Attack: a header whose size disagrees with the data that follows (smuggle entries, desynchronise the parser).
import assert from 'node:assert/strict';
import { statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer, InvalidLayerError } from '../../layer-store/layer/index.js';
import { hostileTar, sandbox, Readable } from './layer-test-kit.js';

/** Rewrites the size field of the ustar header at `off` and fixes its checksum. */
function patchSize(tar: Buffer, off: number, size: number): void {
  tar.write(size.toString(8).padStart(11, '0') + '\0', off + 124, 12, 'latin1');
  tar.fill(0x20, off + 148, off + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tar[off + i]!;
  tar.write(sum.toString(8).padStart(6, '0') + '\0 ', off + 148, 8, 'latin1');
}

test('a header claiming more bytes than the archive holds fails as truncated (InvalidLayerError)', async (t) => {
  const s = sandbox(t);
  const before = s.outsideState();
  const tar = await hostileTar([{ header: { name: 'liar', type: 'file' }, body: 'only a few bytes' }]);
  patchSize(tar, 0, 10 * 1024 * 1024);
  await assert.rejects(applyLayer(Readable.from([tar]), s.target), (e: unknown) =>
    e instanceof InvalidLayerError && /short of its header size|truncated/.test(e.message));
  assert.ok(statSync(join(s.target, 'liar')).size < 10 * 1024 * 1024);
  assert.deepEqual(s.outsideState(), before);
});

test('a header claiming fewer bytes than follow makes the parser hit garbage and fail (no smuggled entry)', async (t) => {
  const s = sandbox(t);
  const before = s.outsideState();
  const body = Buffer.alloc(4096, 0x41);
  const tar = await hostileTar([{ header: { name: 'liar', type: 'file' }, body }, { header: { name: 'after', type: 'file' }, body: 'x' }]);
  patchSize(tar, 0, 10);
  await assert.rejects(applyLayer(Readable.from([tar]), s.target), (e: unknown) =>
    e instanceof InvalidLayerError && /checksum/.test(e.message));
  assert.equal(existsSync(join(s.target, 'after')), false);
  assert.deepEqual(s.outsideState(), before);
});
