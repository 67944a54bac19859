import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore, copyImage } from '../../layer-store/index.js';
import { startRegistry } from '../helpers/registry.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { makeImage, pushImage } from './fixture.js';

/** The HEAD requests on blobs of `repo` that distribution logged after log offset `from`. */
function blobHeads(log: string, from: number, repo: string): string[] {
  return log.slice(from).split('\n')
    .filter((l) => l.includes('response completed') && /http\.request\.method=HEAD/.test(l) && l.includes(`/v2/${repo}/blobs/`));
}

// A push asks the registry once whether it has each blob (copyImage's hasBlob), not a second time in putBlob:
// with small images every request is a noticeable part of the push.
test('pushing an image HEADs each blob once, and a second push of it uploads nothing', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const client = new RegistryClient();
  t.after(() => client.close());
  const img = await makeImage([40_000, 3000, 100]);
  await pushImage(client.destination(parseReference(`${reg.host}/src/app:v1`)), img, []);
  const store = await LayerStore.open(root);
  await copyImage(client.source(parseReference(`${reg.host}/src/app:v1`)), store.destination(), { tags: ['app:v1'] });

  const blobs = img.layers.length + 1; // layers and the config
  let mark = reg.log().length;
  const pushed = await copyImage(store.source('app:v1'), client.destination(parseReference(`${reg.host}/dst/app:v2`)), {});
  assert.equal(pushed.digest, img.manifest.digest);
  assert.equal(blobHeads(reg.log(), mark, 'dst/app').length, blobs, 'one HEAD per blob');

  mark = reg.log().length;
  await copyImage(store.source('app:v1'), client.destination(parseReference(`${reg.host}/dst/app:v3`)), {});
  const after = reg.log().slice(mark);
  assert.equal(blobHeads(after, 0, 'dst/app').length, blobs, 'present blobs are asked about once too');
  assert.doesNotMatch(after, /http\.request\.method=(PUT|PATCH)[^\n]*\/blobs\//, 'nothing is uploaded again');
});
