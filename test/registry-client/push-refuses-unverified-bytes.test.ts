import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { DigestMismatchError, MediaTypes, SizeMismatchError, digestOf } from '../../layer-store/core/index.js';
import { startRegistry } from '../helpers/registry.js';
import { startFaultyProxy } from '../helpers/faulty-proxy.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';

test('putBlob with bytes that do not match the descriptor: error, upload cancelled, nothing committed', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host);
  t.after(() => proxy.stop());
  const client = new RegistryClient({ chunkSize: 64 * 1024 });
  t.after(() => client.close());
  const dst = client.destination(parseReference(`${proxy.host}/strict/app:v1`));
  for (const size of [1000, 200_000]) {
    const good = randomBytes(size);
    const bad = Buffer.from(good);
    bad[size - 1] = bad[size - 1]! ^ 1;
    const want = { mediaType: MediaTypes.ociLayerGzip, digest: digestOf(good), size };
    const err = await dst.putBlob(Readable.from([bad]), want).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof DigestMismatchError, `size ${size}: got ${String(err)}`);
    assert.equal(await dst.hasBlob(want), false);
    const short = await dst.putBlob(Readable.from([good.subarray(0, size - 10)]), want).then(() => undefined, (e: unknown) => e);
    assert.ok(short instanceof SizeMismatchError, `size ${size}: got ${String(short)}`);
    assert.equal(await dst.hasBlob(want), false);
  }
  assert.equal(proxy.log.filter((e) => e.method === 'PUT').length, 0, 'no commit PUT was ever sent');
  assert.equal(proxy.log.filter((e) => e.method === 'DELETE' && e.status === 204).length, 4, 'every upload session was cancelled');
});
