import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaTypes, digestOf, type RawManifest } from '../../layer-store/core/index.js';
import { startRegistry } from '../helpers/registry.js';
import { faultTimes, startFaultyProxy } from '../helpers/faulty-proxy.js';
import { RegistryClient, UnsupportedManifestError, parseReference } from '../../registry-client/index.js';
import { makeImage, pushImage } from './fixture.js';

test('a schema 1 manifest (distribution downgrades when Accept lacks v2) is rejected with a clear message', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host);
  t.after(() => proxy.stop());
  const client = new RegistryClient();
  t.after(() => client.close());
  const base = await makeImage([800]);
  // schema 1 conversion needs a Docker-style config with one history entry per layer
  const cfgBytes = Buffer.from(JSON.stringify({ ...JSON.parse(base.blobs.get(base.config.digest)!.toString('utf8')) as object, created: '2020-01-01T00:00:00Z', history: [{ created: '2020-01-01T00:00:00Z', created_by: 'test' }] }));
  const config = { mediaType: MediaTypes.ociConfig, digest: digestOf(cfgBytes), size: cfgBytes.length };
  const blobs = new Map(base.blobs);
  blobs.delete(base.config.digest);
  blobs.set(config.digest, cfgBytes);
  const mb = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers: base.layers }));
  const img = { ...base, config, blobs, manifest: { mediaType: MediaTypes.ociManifest, bytes: mb, digest: digestOf(mb) } };
  // the same image with Docker v2 schema 2 media types
  const m = JSON.parse(Buffer.from(img.manifest.bytes).toString('utf8')) as { config: object; layers: object[] };
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MediaTypes.dockerManifest,
    config: { ...m.config, mediaType: MediaTypes.dockerConfig },
    layers: m.layers.map((l) => ({ ...l, mediaType: MediaTypes.dockerLayerGzip })),
  }));
  const docker: RawManifest = { mediaType: MediaTypes.dockerManifest, bytes, digest: digestOf(bytes) };
  await pushImage(client.destination(parseReference(`${reg.host}/old/app:v1`)), { ...img, manifest: docker }, []);
  assert.equal((await client.source(parseReference(`${proxy.host}/old/app:v1`)).getManifest()).mediaType, MediaTypes.dockerManifest);

  proxy.setRule(faultTimes((r) => r.url.includes('/manifests/'), { kind: 'strip-header', name: 'accept' }, 1));
  const err = await client.source(parseReference(`${proxy.host}/old/app:v1`)).getManifest().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof UnsupportedManifestError, `got ${String(err)}`);
  assert.match(err.hint ?? '', /schema 1 manifest.*re-push/);
});
