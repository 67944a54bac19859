// Attack: a small gzip that inflates to far more than any real layer (decompression bomb).
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer, InvalidLayerError } from '../../layer-store/layer/index.js';
import { hostileTar, sandbox, Readable } from './layer-test-kit.js';

test('a layer inflating beyond maxUncompressedBytes is stopped at the limit with InvalidLayerError', async (t) => {
  const s = sandbox(t);
  const before = s.outsideState();
  const bomb = await hostileTar([{ header: { name: 'zeros', type: 'file' }, body: Buffer.alloc(64 * 1024 * 1024) }], { gzip: true });
  assert.ok(bomb.length < 200 * 1024, `compressed bomb is small (${bomb.length} bytes)`);
  const limit = 4 * 1024 * 1024;
  await assert.rejects(applyLayer(Readable.from([bomb]), s.target, { maxUncompressedBytes: limit }), (e: unknown) =>
    e instanceof InvalidLayerError && /exceeds the limit/.test(e.message));
  const written = readdirSync(s.target).reduce((n, f) => n + statSync(join(s.target, f)).size, 0);
  assert.ok(written <= limit, `at most the limit was written (${written})`);
  assert.deepEqual(s.outsideState(), before);
});
