import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from '../helpers/registry.js';
import { combine, faultTimes, startFaultyProxy } from '../helpers/faulty-proxy.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { makeImage, pullAll, pushImage } from './fixture.js';

const fast = { maxAttempts: 6, baseDelayMs: 10, maxDelayMs: 200, maxTotalMs: 20_000, retryStatuses: [429, 500, 502, 503, 504] };

test('push and pull finish with identical digests through dropped connections, 500s and 429s', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host);
  t.after(() => proxy.stop());
  const client = new RegistryClient({ chunkSize: 64 * 1024, retry: fast });
  t.after(() => client.close());
  const img = await makeImage([400_000, 20_000]);
  const big = img.layers[0]!;
  const ref = parseReference(`${proxy.host}/flaky/app:v1`);

  let patches = 0;
  proxy.setRule(combine(
    faultTimes((r) => r.method === 'HEAD', { kind: 'status', status: 500 }, 2),
    faultTimes((r) => r.method === 'POST', { kind: 'status', status: 429, headers: { 'retry-after': '0' } }, 2),
    // the 2nd and 4th chunk: connection dropped before the registry saw it; the 3rd: 503
    (r) => (r.method === 'PATCH' ? ([2, 4].includes(++patches) ? { kind: 'drop-request' } : patches === 3 ? { kind: 'status', status: 503 } : undefined) : undefined),
    faultTimes((r) => r.method === 'PUT' && r.url.includes('/manifests/'), { kind: 'drop-request' }, 1),
  ));
  await pushImage(client.destination(ref), img, []);
  assert.ok(proxy.log.some((e) => e.fault === 'drop-request' && e.method === 'PATCH'));
  assert.ok(proxy.log.some((e) => e.method === 'GET' && e.url.includes('/blobs/uploads/') && e.status === 204), 'asked for the upload offset');

  proxy.setRule(combine(
    faultTimes((r) => r.method === 'GET' && r.url.includes(`/blobs/${big.digest}`) && !r.headers.range, { kind: 'drop-response', afterBytes: 150_000 }, 1),
    faultTimes((r) => r.method === 'GET' && r.url.includes(`/blobs/${big.digest}`) && !!r.headers.range, { kind: 'drop-response', afterBytes: 100_000 }, 1),
    faultTimes((r) => r.method === 'GET' && r.url.includes('/manifests/'), { kind: 'status', status: 500 }, 2),
  ));
  const pulled = await pullAll(client.source(ref));
  assert.equal(pulled.manifest.digest, img.manifest.digest);
  for (const [d, b] of img.blobs) assert.deepEqual(pulled.blobs.get(d), b, d);
  const resumed = proxy.log.filter((e) => e.method === 'GET' && e.url.includes(`/blobs/${big.digest}`));
  assert.equal(resumed.length, 3, 'first GET, resumed GET (dropped again), resumed GET');

  // the registry's own view agrees
  const fresh = new RegistryClient();
  t.after(() => fresh.close());
  const direct = await pullAll(fresh.source(parseReference(`${reg.host}/flaky/app:v1`)));
  for (const [d, b] of img.blobs) assert.deepEqual(direct.blobs.get(d), b);
});

test('a PATCH cut off after the registry applied it: the upload is restarted from the source', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host);
  t.after(() => proxy.stop());
  const client = new RegistryClient({ chunkSize: 64 * 1024, retry: fast });
  t.after(() => client.close());
  const img = await makeImage([300_000]);
  const ref = parseReference(`${proxy.host}/lost/app:v1`);
  let patches = 0;
  // the registry applies the 2nd chunk, but its answer is lost: the client's upload URL is now stale
  proxy.setRule((r) => (r.method === 'PATCH' && ++patches === 2 ? { kind: 'drop-response', afterBytes: 0 } : undefined));
  await pushImage(client.destination(ref), img, []);
  assert.equal((await pullAll(client.source(ref))).manifest.digest, img.manifest.digest);
  assert.ok(proxy.log.filter((e) => e.method === 'POST').length >= 3, 'upload restarted');
});
