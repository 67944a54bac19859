import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from '../helpers/registry.js';
import { startFaultyProxy } from '../helpers/faulty-proxy.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { makeImage, pullAll, pushImage } from './fixture.js';

test('a blob larger than the chunk size goes up in PATCH chunks with Content-Range; small blobs in one PUT', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host);
  t.after(() => proxy.stop());
  const chunkSize = 64 * 1024;
  const client = new RegistryClient({ chunkSize });
  t.after(() => client.close());
  const img = await makeImage([300_000]);
  const layer = img.layers[0]!;
  assert.ok(layer.size > 4 * chunkSize);
  const ref = parseReference(`${proxy.host}/chunk/app:v1`);
  await pushImage(client.destination(ref), img, []);

  const patches = proxy.log.filter((e) => e.method === 'PATCH');
  assert.equal(patches.length, Math.ceil(layer.size / chunkSize));
  assert.ok(patches.every((e) => e.status === 202));
  const puts = proxy.log.filter((e) => e.method === 'PUT' && e.url.includes('/blobs/uploads/'));
  assert.equal(puts.length, 2, 'one commit PUT for the chunked layer, one monolithic PUT for the config');
  const pulled = await pullAll(client.source(ref));
  assert.deepEqual(pulled.blobs.get(layer.digest), img.blobs.get(layer.digest));
});
