import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore, copyImage } from '../../layer-store/index.js';
import { startRegistry } from '../helpers/registry.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { makeImage, pushImage } from './fixture.js';

test('copyImage pulls a registry image into the layer store and pushes it to another registry: skopeo agrees on the digest', async (t) => {
  const a = await startRegistry();
  t.after(() => a.stop());
  const b = await startRegistry();
  t.after(() => b.stop());
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const client = new RegistryClient({ chunkSize: 64 * 1024 });
  t.after(() => client.close());
  const img = await makeImage([150_000, 3000]);
  await pushImage(client.destination(parseReference(`${a.host}/src/app:v1`)), img, []);

  const store = await LayerStore.open(root);
  const pulled = await copyImage(client.source(parseReference(`${a.host}/src/app:v1`)), store.destination(), { tags: ['app:v1'] });
  assert.equal(pulled.digest, img.manifest.digest);
  for (const d of img.blobs.keys()) assert.equal(await store.hasBlob(d), true);

  const pushed = await copyImage(store.source('app:v1'), client.destination(parseReference(`${b.host}/dst/app:v2`)), {});
  assert.equal(pushed.digest, img.manifest.digest);
  const info = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${b.host}/dst/app:v2`], { encoding: 'utf8' })) as { Digest: string; Layers: string[] };
  assert.equal(info.Digest, img.manifest.digest);
  assert.deepEqual(info.Layers, img.layers.map((l) => l.digest));
});
