import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LayerStore, digestOf, encodeDocument, MediaTypes } from '../../layer-store/index.js';

// LayerStore.open(root, { layoutFilesBehind: true }) (the CLI's pull) returns once a new store's directories exist
// and writes oci-layout and index.json behind; blobs can be stored at once, and a name is written only after
// those files are on disk (every index update waits for them).

test('a new store opened with its files behind takes blobs at once and names an image only after its files', async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'tsbuild-store-behind-'));
  t.after(() => rm(parent, { recursive: true, force: true }));
  const root = join(parent, 'root');
  const store = await LayerStore.open(root, { layoutFilesBehind: true });
  assert.ok(existsSync(store.blobsDir) && existsSync(store.snapshotsDir), 'the directories exist when open returns');
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const cd = await store.putBlob(Readable.from([config]), { digest: digestOf(config), size: config.length, mediaType: MediaTypes.ociConfig });
  const doc = encodeDocument({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: cd, layers: [] }, MediaTypes.ociManifest);
  const md = await store.putBlob(Readable.from([Buffer.from(doc.bytes)]), { digest: doc.digest, size: doc.bytes.length, mediaType: doc.mediaType });
  await store.tag('behind:v1', md);
  assert.deepEqual(JSON.parse(readFileSync(join(root, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  const idx = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  assert.deepEqual(idx.manifests.map((m) => m.digest), [md.digest]);
  // Opened again (complete now): the same image.
  const again = await LayerStore.open(root);
  assert.equal((await again.resolve('behind:v1')).descriptor.digest, md.digest);
});
