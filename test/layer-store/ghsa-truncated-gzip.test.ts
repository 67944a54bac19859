// Attack/fault: a truncated or corrupted gzip layer must fail as INVALID_LAYER, never as a silent short apply.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyLayer, InvalidLayerError } from '../../layer-store/layer/index.js';
import { hostileTar, sandbox, Readable } from './layer-test-kit.js';

async function layer(): Promise<Buffer> {
  const big = Buffer.alloc(256 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  return hostileTar([
    { header: { name: 'a.txt', type: 'file' }, body: 'first' },
    { header: { name: 'big.bin', type: 'file' }, body: big },
    { header: { name: 'z.txt', type: 'file' }, body: 'last' },
  ], { gzip: true });
}

test('a gzip layer cut in the middle fails with InvalidLayerError', async (t) => {
  const s = sandbox(t);
  const before = s.outsideState();
  const gz = await layer();
  await assert.rejects(applyLayer(Readable.from([gz.subarray(0, Math.floor(gz.length / 2))]), s.target), (e: unknown) =>
    e instanceof InvalidLayerError && e.code === 'INVALID_LAYER');
  assert.deepEqual(s.outsideState(), before);
});

test('a gzip layer missing only its trailer (CRC and size) fails with InvalidLayerError', async (t) => {
  const s = sandbox(t);
  const gz = await layer();
  await assert.rejects(applyLayer(Readable.from([gz.subarray(0, gz.length - 8)]), s.target), InvalidLayerError);
});

test('a gzip layer with a flipped byte fails with InvalidLayerError', async (t) => {
  const s = sandbox(t);
  const gz = Buffer.from(await layer());
  gz[Math.floor(gz.length / 2)]! ^= 0xff;
  await assert.rejects(applyLayer(Readable.from([gz]), s.target), InvalidLayerError);
});
