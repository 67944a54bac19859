import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaTypes, digestHex, digestOf } from '../../layer-store/core/index.js';
import { startRegistry } from '../helpers/registry.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { makeImage, pullAll } from './fixture.js';

test('tsbuild pulls what skopeo copy pushed, and the digests match skopeo\'s', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-oci-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const img = await makeImage([5000, 70_000]);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [d, b] of img.blobs) await writeFile(join(dir, 'blobs', 'sha256', digestHex(d)), b);
  await writeFile(join(dir, 'blobs', 'sha256', digestHex(img.manifest.digest)), img.manifest.bytes);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaTypes.ociManifest, digest: img.manifest.digest, size: img.manifest.bytes.length, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }));
  execFileSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${dir}:v1`, `docker://${reg.host}/from/skopeo:v1`], { stdio: 'pipe' });
  const skopeoDigest = (JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/from/skopeo:v1`], { encoding: 'utf8' })) as { Digest: string }).Digest;

  const client = new RegistryClient();
  t.after(() => client.close());
  const pulled = await pullAll(client.source(parseReference(`${reg.host}/from/skopeo:v1`)));
  assert.equal(pulled.manifest.digest, skopeoDigest);
  assert.equal(digestOf(pulled.manifest.bytes), skopeoDigest);
  for (const [d, b] of img.blobs) assert.deepEqual(pulled.blobs.get(d), b);
  const byDigest = await pullAll(client.source(parseReference(`${reg.host}/from/skopeo@${skopeoDigest}`)));
  assert.equal(byDigest.manifest.digest, skopeoDigest);
});
