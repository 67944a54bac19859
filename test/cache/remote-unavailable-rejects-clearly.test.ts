/**
 * A --cache-from that cannot be used rejects importCache with CacheImportError (code REGISTRY) naming the
 * reference, with a reason the builder can print as a warning: registry down, tag missing, denied, not a cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CacheImportError, importCache, importCacheFromDir } from '../../cache/index.js';
import { MediaTypes, TsbuildError, buildConfig, copyImage, encodeDocument } from '../../layer-store/index.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { startRegistry } from '../helpers/registry.js';
import { makeFixture, tempDir } from './remote-fixture.js';

const fast = { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxTotalMs: 5_000, retryStatuses: [] };

function assertImportError(e: unknown, reason: string, ref: string): true {
  assert.ok(e instanceof CacheImportError, `got ${String(e)}`);
  assert.ok(TsbuildError.is(e));
  assert.equal(e.code, 'REGISTRY');
  assert.equal(e.reason, reason);
  assert.ok(e.message.includes(ref), e.message);
  assert.match(e.hint ?? '', /continues without the remote cache|tsbuild cache artifact/);
  return true;
}

test('import from a registry that is down, a missing tag, a plain image, denied access, or a missing dir rejects with CacheImportError', async (t) => {
  const client = new RegistryClient({ retry: fast });
  t.after(() => client.close());

  // Down: start a registry to get a port nobody listens on any more.
  const gone = await startRegistry();
  await gone.stop();
  const downRef = `${gone.host}/cache/app:latest`;
  await assert.rejects(importCache(client.source(parseReference(downRef))), (e) => assertImportError(e, 'unreachable', downRef));

  const reg = await startRegistry();
  t.after(() => reg.stop());
  const missing = `${reg.host}/cache/none:latest`;
  await assert.rejects(importCache(client.source(parseReference(missing))), (e) => assertImportError(e, 'not-found', missing));

  // An ordinary image is not a cache.
  const fx = await makeFixture();
  t.after(fx.cleanup);
  const layer = fx.records[0]!.result.layer!;
  const cfg = encodeDocument(buildConfig({ diffIds: [layer.diffId], created: '2024-01-01T00:00:00Z' }), MediaTypes.ociConfig);
  await fx.store.putBytes(cfg.bytes, { mediaType: MediaTypes.ociConfig });
  const man = encodeDocument({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: cfg.descriptor, layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }] }, MediaTypes.ociManifest);
  await fx.store.putBytes(man.bytes, { mediaType: MediaTypes.ociManifest });
  await fx.store.tag('plain:v1', man.descriptor);
  const plain = `${reg.host}/cache/plain:v1`;
  await copyImage(fx.store.source('plain:v1'), client.destination(parseReference(plain)), {});
  await assert.rejects(importCache(client.source(parseReference(plain))), (e) => assertImportError(e, 'invalid', plain));

  // Denied: a registry that wants a password, asked anonymously.
  const locked = await startRegistry({ mode: 'htpasswd', users: { ci: 'secret' } });
  t.after(() => locked.stop());
  const deniedRef = `${locked.host}/cache/app:latest`;
  await assert.rejects(importCache(client.source(parseReference(deniedRef))), (e) => assertImportError(e, 'denied', deniedRef));

  const nowhere = await tempDir('tsbuild-remote-cache-nodir-');
  t.after(nowhere.cleanup);
  const dir = `${nowhere.dir}/absent`;
  await assert.rejects(importCacheFromDir(dir), (e) => assertImportError(e, 'not-found', dir));
});
