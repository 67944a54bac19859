/**
 * --cache-to/--cache-from through a real registry (CNCF distribution): exported records all hit in a fresh
 * empty store, importing fetches only the manifest and the records, and fetchLayer downloads exactly the hit's
 * blob, byte-identical. skopeo (an independent reader) sees the artifact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { CACHE_ARTIFACT_TYPE, CACHE_RECORDS_MEDIA_TYPE, exportCache, importCache } from '../../cache/index.js';
import { LayerStore, MediaTypes, type ImageSource } from '../../layer-store/index.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { startRegistry } from '../helpers/registry.js';
import { makeFixture, tempDir } from './remote-fixture.js';

test('registry cache round trip: every record hits in an empty store, and only the hit layers are downloaded', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const fx = await makeFixture();
  t.after(fx.cleanup);
  const client = new RegistryClient();
  t.after(() => client.close());
  const ref = `${reg.host}/team/app-cache:buildcache`;

  const desc = await exportCache(fx.records, fx.store, client.destination(parseReference(ref)), { mode: 'min' });
  assert.equal(desc.mediaType, MediaTypes.ociManifest);

  // An independent reader sees the artifact.
  const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' })) as {
    artifactType: string; config: { mediaType: string }; layers: { mediaType: string; digest: string }[];
  };
  assert.equal(raw.artifactType, CACHE_ARTIFACT_TYPE);
  assert.equal(raw.config.mediaType, MediaTypes.ociEmpty);
  assert.equal(raw.layers[0]!.mediaType, CACHE_RECORDS_MEDIA_TYPE);
  const layerRecords = fx.records.filter((r) => r.result.layer);
  assert.deepEqual(raw.layers.slice(1).map((l) => l.digest).sort(), layerRecords.map((r) => r.result.layer!.digest).sort());

  const fresh = await tempDir('tsbuild-remote-cache-fresh-');
  t.after(fresh.cleanup);
  const store2 = await LayerStore.open(fresh.dir);
  // Count what is read through the real registry source.
  const real = client.source(parseReference(ref));
  const fetched: string[] = [];
  const src: ImageSource = { ref: real.ref, getManifest: (d, o) => real.getManifest(d, o), getBlob: (d, o) => { fetched.push(d.digest); return real.getBlob(d, o); }, close: () => real.close() };
  const remote = await importCache(src);
  t.after(() => remote.close());
  assert.equal(remote.descriptor.digest, desc.digest);
  assert.equal(remote.size, fx.records.length);
  for (const r of fx.records) {
    const hit = remote.get(r.key);
    assert.ok(hit, `record ${r.inputs.instruction} hits`);
    assert.deepEqual(hit.result, r.result);
    assert.equal(hit.inputs.instruction, r.inputs.instruction);
    assert.equal(hit.inputs.sources?.files, undefined, 'per-file fingerprints stay local');
  }
  // Lazy: importing read the records blob and nothing else.
  assert.deepEqual(fetched, [raw.layers[0]!.digest]);
  for (const r of layerRecords) assert.equal(await store2.hasBlob(r.result.layer!.digest), false);

  // A hit on the second step fetches exactly its blob.
  const hit = layerRecords[1]!;
  await remote.fetchLayer(remote.get(hit.key)!, store2);
  assert.equal(await store2.hasBlob(hit.result.layer!.digest), true);
  assert.deepEqual(await readFile(store2.blobPath(hit.result.layer!.digest)), await readFile(fx.store.blobPath(hit.result.layer!.digest)));
  assert.deepEqual(fetched, [raw.layers[0]!.digest, hit.result.layer!.digest]);
  for (const r of layerRecords) if (r !== hit) assert.equal(await store2.hasBlob(r.result.layer!.digest), false, `${r.inputs.instruction} was not downloaded`);
  // A record without a layer needs nothing.
  await remote.fetchLayer(remote.get(fx.records[2]!.key)!, store2);

  // Re-exporting the same records gives the same artifact digest (blobs already there are skipped).
  const again = await exportCache([...fx.records].reverse(), fx.store, client.destination(parseReference(ref)), { mode: 'min' });
  assert.equal(again.digest, desc.digest);
});
