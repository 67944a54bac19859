import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore, MediaTypes, buildConfig, encodeDocument, rootLayout, stepCacheLayout, statCacheFile, cacheMountDirName, type Digest } from '../../layer-store/index.js';
import { CacheStore } from '../../cache/index.js';

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

// The on-disk layout is a compatibility promise: existing stores must keep working. Every path StoreLayout
// gives is checked here against the literal path earlier versions wrote.
test('StoreLayout names every place under the root exactly as earlier versions did', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-layout-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const d = `sha256:${'ab'.repeat(32)}` as Digest;
  const l = rootLayout(join(root, '.', 'x', '..'));
  assert.equal(l.root, root, 'absolute and normalised');
  const want: Record<string, string> = {
    ociLayoutFile: 'oci-layout',
    indexFile: 'index.json',
    indexLockFile: 'index.json.lock',
    blobsDir: 'blobs/sha256',
    snapshotsDir: 'snapshots',
    unsyncedDir: 'unsynced',
    leasesDir: 'leases',
    leasesLockFile: 'leases/.lock',
    tmpDir: 'tmp',
    outputTempPrefix: 'tmp/out-',
    cacheDir: 'cache',
    cacheStepsDir: 'cache/steps',
    cacheStatDir: 'cache/stat',
    cacheLocksDir: 'cache/locks',
    gitCacheDir: 'cache/git',
    cacheMountsDir: 'cache-mounts',
    manifestListsDir: 'manifests',
  };
  for (const [k, rel] of Object.entries(want)) assert.equal((l as unknown as Record<string, string>)[k], join(root, rel), k);
  assert.equal(l.blobPath(d), join(root, 'blobs/sha256', 'ab'.repeat(32)));
  assert.match(l.blobTempPath(), new RegExp(`^${root}/blobs/sha256/\\.tmp-${process.pid}-[0-9a-f-]{36}$`));
  assert.equal(l.snapshotPath(d), join(root, 'snapshots', 'ab'.repeat(32)));
  assert.match(l.snapshotTempPath(d), new RegExp(`^${root}/snapshots/\\.tmp-${process.pid}-${'ab'.repeat(6)}-[0-9a-f-]{36}$`));
  assert.equal(l.unsyncedMarker(d), join(root, 'unsynced', 'ab'.repeat(32)));
  assert.equal(l.scratchPath('build', 'id1'), join(root, 'tmp', `build-${process.pid}-id1`));
  assert.equal(l.stepLockPath(d), join(root, 'cache/locks', `${'ab'.repeat(32)}.lock`));
  assert.equal(cacheMountDirName('go-build'), hex('go-build').slice(0, 32));
  assert.equal(l.cacheMountPath('go-build'), join(root, 'cache-mounts', hex('go-build').slice(0, 32)));
  assert.equal(l.cacheMountLeasePath('go-build'), `cache-mounts/${hex('go-build').slice(0, 32)}`);
  assert.equal(l.gitCacheLeaseName('abc-git'), 'cache/git/abc-git');
  assert.equal(l.manifestListPath('docker.io/library/list:latest'), join(root, 'manifests', `${hex('docker.io/library/list:latest').slice(0, 32)}.json`));
  assert.equal(l.statCachePath('/ctx'), join(root, 'cache/stat', `statcache-${hex('/ctx').slice(0, 16)}.json`));
  assert.equal(statCacheFile('/d', '/ctx'), `/d/statcache-${hex('/ctx').slice(0, 16)}.json`);
  const c = stepCacheLayout('/c');
  assert.deepEqual([c.records, c.steps, c.sources, c.segments], ['/c/records', '/c/steps', '/c/sources', '/c/gzindex']);
  assert.equal(c.recordPath(d), `/c/records/${'ab'.repeat(32)}.json`);
  assert.equal(c.stepPath('stage 0 step 1'), `/c/steps/${hex('stage 0 step 1')}.json`);
  assert.equal(c.sourcesPath(d), `/c/sources/${'ab'.repeat(32)}.json`);
  assert.equal(c.segmentsPath(d), `/c/gzindex/${'ab'.repeat(32)}.json`);
  assert.equal(l.cacheSteps.dir, join(root, 'cache/steps'));

  // What opening a store and its cache creates, and where the store's own files land.
  const store = await LayerStore.open(root);
  assert.equal(store.layout.root, root);
  assert.equal(store.indexPath, l.indexFile);
  await CacheStore.open(store.layout.cacheStepsDir);
  const cfg = encodeDocument(buildConfig({ diffIds: [] }), MediaTypes.ociConfig);
  const desc = await store.putBytes(cfg.bytes, cfg.descriptor);
  assert.deepEqual(await readdir(l.blobsDir), [desc.digest.slice(7)]);
  assert.deepEqual((await readdir(root)).sort(), ['blobs', 'cache', 'index.json', 'oci-layout', 'snapshots']);
  assert.deepEqual((await readdir(l.cacheStepsDir)).sort(), ['gzindex', 'records', 'sources', 'steps']);
});
