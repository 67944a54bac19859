import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from '../helpers/registry.js';
import { faultTimes, startFaultyProxy } from '../helpers/faulty-proxy.js';
import { RegistryClient, RegistryError, parseReference } from '../../registry-client/index.js';
import { makeImage, pushImage } from './fixture.js';

test('a registry that keeps failing: a bounded number of attempts, then a retryable RegistryError; Retry-After is honoured', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host);
  t.after(() => proxy.stop());
  const policy = { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 50, maxTotalMs: 10_000, retryStatuses: [429, 500, 502, 503, 504] };
  const client = new RegistryClient({ retry: policy });
  t.after(() => client.close());
  const img = await makeImage([100]);
  await pushImage(client.destination(parseReference(`${reg.host}/r/app:v1`)), img, []);
  const ref = parseReference(`${proxy.host}/r/app:v1`);

  proxy.setRule((r) => (r.url.includes('/manifests/') ? { kind: 'status', status: 503 } : undefined));
  const err = await client.source(ref).getManifest().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof RegistryError, String(err));
  assert.equal(err.status, 503);
  assert.equal(err.retryable, true);
  assert.equal(proxy.log.filter((e) => e.url.includes('/manifests/')).length, policy.maxAttempts);

  proxy.log.length = 0;
  proxy.setRule(faultTimes((r) => r.url.includes('/manifests/'), { kind: 'status', status: 429, headers: { 'retry-after': '1' } }, 1));
  const t0 = Date.now();
  assert.equal((await client.source(ref).getManifest()).digest, img.manifest.digest);
  assert.ok(Date.now() - t0 >= 950, `waited ${Date.now() - t0} ms for Retry-After: 1`);

  proxy.setRule((r) => (r.url.includes('/manifests/') ? { kind: 'status', status: 404, body: '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}' } : undefined));
  proxy.log.length = 0;
  await assert.rejects(client.source(ref).getManifest(), (e: unknown) => e instanceof RegistryError && !e.retryable && e.registryCode === 'MANIFEST_UNKNOWN');
  assert.equal(proxy.log.length, 1, '4xx is not retried');
});
