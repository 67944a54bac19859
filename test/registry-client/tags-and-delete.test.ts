import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from '../helpers/registry.js';
import { RegistryClient, RegistryError, parseReference } from '../../registry-client/index.js';
import { makeImage, pushImage } from './fixture.js';

test('tags lists every tag (sorted); delete by digest removes the manifest; delete by tag says it is unsupported', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const client = new RegistryClient();
  t.after(() => client.close());
  const img = await makeImage([500]);
  const ref = parseReference(`${reg.host}/del/app:b`);
  await pushImage(client.destination(ref), img, ['c', 'a', 'b']);
  assert.deepEqual(await client.listTags(ref, { pageSize: 2 }), ['a', 'b', 'c']);
  const err = await client.deleteManifest(ref).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof RegistryError);
  assert.match(err.message, /does not support tag deletion/);
  await client.deleteManifest(parseReference(`${reg.host}/del/app@${img.manifest.digest}`));
  assert.equal(await client.headManifest(ref), undefined);
  const missing = await client.source(parseReference(`${reg.host}/nope/app:x`)).getManifest().then(() => undefined, (e: unknown) => e);
  assert.ok(missing instanceof RegistryError);
  assert.equal(missing.status, 404);
  assert.equal(missing.registryCode, 'MANIFEST_UNKNOWN');
});
