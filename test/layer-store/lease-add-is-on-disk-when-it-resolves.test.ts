/**
 * A lease's add() resolves only once the lease file records what it added, which is what lets a concurrent gc
 * see it (lease.ts, protocol). Adds made at the same moment, as a pull's download workers make them, share
 * writes (since issue 22's pull work); each must still resolve only once the shared write is done, and an add of
 * a resource another add has just recorded in memory waits for that add's write too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lease, digestOf, type Digest } from '../../layer-store/index.js';

test('every add() of concurrent ones, and a repeated add, resolves with its resource in the lease file', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-lease-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const lease = await Lease.acquire(root);
  t.after(() => lease.release());
  const onDisk = async (): Promise<Set<string>> => new Set((JSON.parse(await readFile(lease.path, 'utf8')) as { blobs: string[] }).blobs);

  const digests: Digest[] = Array.from({ length: 20 }, (_, i) => digestOf(Buffer.from(`blob ${i}`)));
  const missing: string[] = [];
  await Promise.all(digests.map(async (d) => {
    await lease.add({ blobs: [d] });
    if (!(await onDisk()).has(d)) missing.push(d);
  }));
  assert.deepEqual(missing, [], 'adds that resolved before the file held their blob');

  // The same blob added twice at once: the second add finds it held in memory, and still waits for the write.
  const again = digestOf(Buffer.from('added twice'));
  const first = lease.add({ blobs: [again] });
  await lease.add({ blobs: [again] });
  assert.ok((await onDisk()).has(again), 'the repeated add resolved before the write that records the blob');
  await first;
  assert.equal((await onDisk()).size, 21);
});
