/**
 * --cache-to type=local,dest=DIR / --cache-from type=local,src=DIR: the same artifact in an OCI image layout.
 * Every record hits from a fresh store, only the hit's blob is copied, cache mounts come back, and skopeo reads
 * the layout (an independent reader).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CACHE_ARTIFACT_TYPE, cacheMountDirName, exportCacheToDir, importCacheFromDir } from '../../cache/index.js';
import { LayerStore, digestHex } from '../../layer-store/index.js';
import { makeFixture, tempDir, treeListing } from './remote-fixture.js';

test('local directory cache: export, then import into an empty store hits every record lazily', async (t) => {
  const fx = await makeFixture('local');
  t.after(fx.cleanup);
  const out = await tempDir('tsbuild-local-cache-');
  t.after(out.cleanup);
  const dir = join(out.dir, 'cache');
  const mountDir = join(out.dir, 'm');
  await mkdir(join(mountDir, 'sub'), { recursive: true });
  await writeFile(join(mountDir, 'sub', 'a.bin'), Buffer.alloc(3000, 1));

  const desc = await exportCacheToDir(fx.records, fx.store, dir, { mode: 'max', cacheMounts: [{ id: 'go-build', dir: mountDir }] });

  const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci:${dir}:docker.io/library/cache:latest`], { encoding: 'utf8' })) as { artifactType: string };
  assert.equal(raw.artifactType, CACHE_ARTIFACT_TYPE);

  const fresh = await tempDir('tsbuild-local-cache-fresh-');
  t.after(fresh.cleanup);
  const store2 = await LayerStore.open(join(fresh.dir, 'store'));
  const remote = await importCacheFromDir(dir);
  t.after(() => remote.close());
  assert.equal(remote.descriptor.digest, desc.digest);
  for (const r of fx.records) assert.deepEqual(remote.get(r.key)?.result, r.result);
  const withLayers = fx.records.filter((r) => r.result.layer);
  const hit = withLayers[0]!;
  await remote.fetchLayer(remote.get(hit.key)!, store2);
  assert.deepEqual(await readFile(store2.blobPath(hit.result.layer!.digest)), await readFile(fx.store.blobPath(hit.result.layer!.digest)));
  for (const r of withLayers.slice(1)) assert.equal(await store2.hasBlob(r.result.layer!.digest), false);

  const target = join(fresh.dir, 'cache-mounts');
  assert.equal((await remote.restoreMounts(target)).length, 1);
  assert.deepEqual(await treeListing(join(target, cacheMountDirName('go-build'))), await treeListing(mountDir));

  // Exporting again with fewer records replaces the old export: blobs only it used are gone.
  await exportCacheToDir(fx.records.slice(0, 1), fx.store, dir, { mode: 'min' });
  const blobs = await readdir(join(dir, 'blobs', 'sha256'));
  assert.ok(blobs.includes(digestHex(hit.result.layer!.digest)));
  for (const r of withLayers.slice(1)) assert.ok(!blobs.includes(digestHex(r.result.layer!.digest)), 'old layer removed');
  assert.equal(blobs.length, 4, 'records, empty config, one layer, manifest');
  const again = await importCacheFromDir(dir);
  t.after(() => again.close());
  assert.equal(again.size, 1);
});
