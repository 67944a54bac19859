/**
 * gc keeps what a live lease names (blobs, snapshots) and every blob written since the lease was created, and
 * deletes leases of dead processes (or of a reused pid: same pid, other start time) with what only they kept.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { LayerStore, Lease, digestHex, leasesDir, processStartTime, readLiveLeases, type Digest } from '../../layer-store/index.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function oldBlob(store: LayerStore, text: string): Promise<Digest> {
  const d = (await store.putBytes(Buffer.from(text))).digest;
  const past = new Date(Date.now() - 3_600_000);
  await utimes(store.blobPath(d), past, past);
  return d;
}

test('gc keeps leased blobs, snapshots and fresh writes of live leases, and drops leases of dead processes', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-lease-'));
  dirs.push(root);
  const store = await LayerStore.open(root);

  const leasedBlob = await oldBlob(store, 'leased');
  const deadBlob = await oldBlob(store, 'held by a dead process');
  const reusedBlob = await oldBlob(store, 'held by a reused pid');
  const loose = await oldBlob(store, 'nobody holds this');
  const snapId = `sha256:${'a'.repeat(64)}` as Digest;
  await mkdir(join(store.snapshotsDir, digestHex(snapId)), { recursive: true });

  const lease = await Lease.acquire(root);
  await lease.add({ blobs: [leasedBlob], snapshots: [snapId] });
  // Written after the lease was created, digest never added: kept by the time rule while the lease lives.
  const fresh = (await store.putBytes(Buffer.from('packed by a running build'))).digest;

  // A lease file of a process that has exited, and one whose pid is alive but started at another time.
  const gone = spawnSync('true').pid!;
  const lease0 = { v: 1, host: hostname(), createdAt: Date.now() - 7_200_000, snapshots: [], cacheKeys: [], paths: [] };
  await writeFile(join(leasesDir(root), `${gone}-1-dead.json`), JSON.stringify({ ...lease0, pid: gone, start: '1', blobs: [deadBlob] }));
  await writeFile(join(leasesDir(root), `${process.pid}-reused.json`), JSON.stringify({ ...lease0, pid: process.pid, start: '12345', blobs: [reusedBlob] }));
  assert.notEqual(await processStartTime(process.pid), '12345');

  const r = await store.gc();
  const removed = new Set(r.removedBlobs);
  assert.ok(!removed.has(leasedBlob), 'a leased blob was removed');
  assert.ok(!removed.has(fresh), 'a blob written during a live lease was removed');
  assert.deepEqual(r.removedSnapshots, [], 'a leased snapshot was removed');
  assert.ok(removed.has(deadBlob) && removed.has(reusedBlob) && removed.has(loose), 'unleased blobs were kept');
  assert.deepEqual((await readdir(leasesDir(root))).filter((n) => n.endsWith('.json')), [lease.path.slice(leasesDir(root).length + 1)]);

  const live = await readLiveLeases(root);
  assert.equal(live.live, 1);
  assert.ok(live.blobs.has(leasedBlob) && live.snapshots.has(snapId));

  // Once released, the next gc collects what only the lease kept.
  await lease.release();
  const r2 = await store.gc();
  assert.ok(r2.removedBlobs.includes(leasedBlob) && r2.removedBlobs.includes(fresh));
  assert.deepEqual(r2.removedSnapshots, [snapId]);
});
