/**
 * A pull records every blob of the manifest (and the manifest) in its lease in one write, before it checks or
 * downloads the first of them (copyImage's willCopy, leaseDestination): a prune running beside it keeps them all.
 * Before, each blob was added just before its own check, one lease write (lock, temp file, rename) per blob.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore, leasesDir } from '../../layer-store/index.js';
import { pull } from '../../builder/pipeline/transfer.js';
import { startRegistry } from '../helpers/registry.js';
import { startFaultyProxy } from '../helpers/faulty-proxy.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { makeImage, pushImage } from './fixture.js';

/** The blobs every lease file under `root` names, read now. */
function leasedBlobs(root: string): Set<string> {
  const out = new Set<string>();
  for (const n of readdirSync(leasesDir(root))) {
    if (!n.endsWith('.json')) continue;
    try {
      for (const d of (JSON.parse(readFileSync(join(leasesDir(root), n), 'utf8')) as { blobs: string[] }).blobs) out.add(d);
    } catch {
      // replaced meanwhile
    }
  }
  return out;
}

test('a pull has every blob of the manifest in its lease when it asks for the first blob', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host);
  t.after(() => proxy.stop());
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-lease-pull-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const client = new RegistryClient({});
  t.after(() => client.close());
  const img = await makeImage([20_000, 30_000, 40_000, 50_000]);
  await pushImage(client.destination(parseReference(`${proxy.host}/lease/app:v1`)), img, ['v1']);

  const store = await LayerStore.open(root);
  let atFirstBlob: Set<string> | undefined;
  proxy.setRule((r) => {
    if (r.method === 'GET' && r.url.includes('/blobs/sha256:') && atFirstBlob === undefined) atFirstBlob = leasedBlobs(root);
    return undefined;
  });
  const got = await pull({ store, registry: client, ref: `${proxy.host}/lease/app:v1`, concurrency: 1 });
  assert.equal(got.digest, img.manifest.digest);
  assert.ok(atFirstBlob, 'the pull downloaded blobs');
  assert.deepEqual([...atFirstBlob].sort(), [img.manifest.digest, ...img.blobs.keys()].sort());
  // Released once the tag names the image.
  assert.deepEqual(readdirSync(leasesDir(root)).filter((n) => n.endsWith('.json')), []);
  for (const d of img.blobs.keys()) assert.equal(await store.hasBlob(d), true);
});
