import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from '../helpers/registry.js';
import { startFaultyProxy } from '../helpers/faulty-proxy.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { makeImage, pullAll, pushImage } from './fixture.js';

test('a blob already in another repository is mounted (POST ?mount=&from= answered 201), not uploaded', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host);
  t.after(() => proxy.stop());
  const client = new RegistryClient();
  t.after(() => client.close());
  const img = await makeImage([50_000, 60_000]);
  await pushImage(client.destination(parseReference(`${proxy.host}/base/one:v1`)), img, []);
  proxy.log.length = 0;

  const second = parseReference(`${proxy.host}/apps/two:v1`);
  await pushImage(client.destination(second), img, [], { mountFrom: ['base/one'] });
  const mounts = proxy.log.filter((e) => e.method === 'POST' && e.url.includes('mount='));
  assert.equal(mounts.length, 3);
  assert.ok(mounts.every((e) => e.status === 201 && e.url.includes('from=base%2Fone')));
  assert.equal(proxy.log.filter((e) => e.method === 'PUT' && e.url.includes('/blobs/')).length, 0, 'no blob bytes uploaded');
  assert.equal((await pullAll(client.source(second))).manifest.digest, img.manifest.digest);
});
