import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from '../helpers/registry.js';
import { faultTimes, startFaultyProxy } from '../helpers/faulty-proxy.js';
import { DigestMismatchError } from '../../layer-store/core/index.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { makeImage, pushImage } from './fixture.js';

test('a registry that alters blob or manifest bytes: DigestMismatchError, and no bytes are delivered as verified', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host);
  t.after(() => proxy.stop());
  const client = new RegistryClient();
  t.after(() => client.close());
  const img = await makeImage([10_000]);
  const layer = img.layers[0]!;
  await pushImage(client.destination(parseReference(`${reg.host}/liar/app:v1`)), img, []);
  const src = client.source(parseReference(`${proxy.host}/liar/app@${img.manifest.digest}`));

  proxy.setRule(faultTimes((r) => r.url.includes('/blobs/'), { kind: 'corrupt-body' }, 1));
  const stream = await src.getBlob(layer);
  let received = 0;
  let ended = false;
  stream.on('end', () => { ended = true; });
  const err = await (async () => { for await (const c of stream) received += (c as Buffer).length; })().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof DigestMismatchError, `got ${String(err)}`);
  assert.equal(err.expected, layer.digest);
  assert.equal(ended, false, 'the stream never ends cleanly');
  assert.ok(received <= layer.size);

  proxy.setRule(faultTimes((r) => r.url.includes('/manifests/'), { kind: 'corrupt-body' }, 1));
  const e2 = await src.getManifest().then(() => undefined, (e: unknown) => e);
  assert.ok(e2 instanceof DigestMismatchError || (e2 as { code?: string }).code === 'INVALID_MANIFEST', `got ${String(e2)}`);
});
