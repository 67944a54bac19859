import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaTypes, digestOf, type RawManifest } from '../../layer-store/core/index.js';
import { startRegistry } from '../helpers/registry.js';
import { RegistryClient, parseReference, resolveImage } from '../../registry-client/index.js';
import { makeImage, pushImage } from './fixture.js';

test('an index with two platforms: children first, index last; resolveImage picks the asked platform', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const client = new RegistryClient();
  t.after(() => client.close());
  const amd = await makeImage([1000]);
  const arm = await makeImage([1200]);
  const ref = parseReference(`${reg.host}/multi/app:v1`);
  const dst = client.destination(ref);
  await pushImage(dst, amd, []);
  await pushImage(dst, arm, []);
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [
      { mediaType: MediaTypes.ociManifest, digest: amd.manifest.digest, size: amd.manifest.bytes.length, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: MediaTypes.ociManifest, digest: arm.manifest.digest, size: arm.manifest.bytes.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  }));
  const index: RawManifest = { mediaType: MediaTypes.ociIndex, bytes, digest: digestOf(bytes) };
  await dst.putManifest(index);
  await dst.commit(['v1']);

  const src = client.source(ref);
  const a = await resolveImage(src, { platform: { os: 'linux', architecture: 'arm64' } });
  assert.equal(a.index?.digest, index.digest);
  assert.equal(a.manifest.digest, arm.manifest.digest);
  assert.equal(a.parsed.layers[0]?.digest, arm.layers[0]?.digest);
  const b = await resolveImage(src, { platform: { os: 'linux', architecture: 'amd64' } });
  assert.equal(b.manifest.digest, amd.manifest.digest);
  await assert.rejects(resolveImage(src, { platform: { os: 'linux', architecture: 's390x' } }), /no image for platform linux\/s390x.*/);
  assert.equal((await client.headManifest(ref))?.digest, index.digest);
});
