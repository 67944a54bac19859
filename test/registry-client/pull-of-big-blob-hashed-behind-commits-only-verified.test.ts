import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobDownloadError, RegistryClient, parseReference } from '../../registry-client/index.js';
import { DigestMismatchError, LayerStore, copyImage, type Descriptor, type ImageDestination, type PutBlobOptions } from '../../layer-store/index.js';
import { putBlob } from '../../layer-store/store/blobs.js';
import type { FileHasher } from '../../layer-store/store/file-hasher.js';
import { CountingHasher, TEST_HASHER_MIN_BYTES } from '../helpers/counting-hasher.js';
import { faultTimes, startFaultyProxy } from '../helpers/faulty-proxy.js';
import { startRegistry } from '../helpers/registry.js';
import { makeImage, pushImage } from './fixture.js';

const MIN = TEST_HASHER_MIN_BYTES;

/** The store's destination, its blobs put through `hasher` (LayerStore.putBlob uses its own, which a test cannot count). */
function destinationWith(store: LayerStore, hasher: FileHasher): ImageDestination {
  const dst = store.destination();
  return {
    ref: dst.ref,
    hasBlob: (d, o) => dst.hasBlob(d, o),
    putBlob: (body: Readable, want: Descriptor, o?: PutBlobOptions) => putBlob(store.layout, body, want, { ...o, hasher }),
    putManifest: (raw, o) => dst.putManifest(raw, o),
    commit: (tags, o) => dst.commit(tags, o),
    close: () => dst.close(),
  };
}

const fast = { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50, maxTotalMs: 10_000, retryStatuses: [500, 502, 503, 504] };

test('a pull whose big blob is hashed behind the writer: a corrupted byte, a transfer that keeps breaking off or an abort mid-blob commit nothing and leave no temp file; the clean pull stores the blob', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startFaultyProxy(reg.host);
  t.after(() => proxy.stop());
  const client = new RegistryClient({ retry: fast });
  t.after(() => client.close());
  const img = await makeImage([MIN + 2 * 1024 * 1024, 3000]);
  const big = img.layers[0]!;
  await pushImage(client.destination(parseReference(`${reg.host}/behind/app:v1`)), img, []);
  const src = () => client.source(parseReference(`${proxy.host}/behind/app:v1`));
  const isBig = (r: { method: string; url: string }): boolean => r.method === 'GET' && r.url.includes(`/blobs/${big.digest}`);

  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const hasher = new CountingHasher();
  const dst = destinationWith(store, hasher);
  const nothingCommitted = async (what: string): Promise<void> => {
    assert.deepEqual((await readdir(store.blobsDir)).filter((n) => n.startsWith('.tmp-')), [], `${what}: no temp file`);
    assert.equal(await store.hasBlob(big.digest), false, `${what}: the big blob is not stored`);
    await assert.rejects(store.resolve('behind:v1'), `${what}: no tag`);
  };

  // One byte of the big blob flipped on the wire: the registry client no longer hashes it (the store does).
  proxy.setRule(faultTimes(isBig, { kind: 'corrupt-body' }, 1));
  await assert.rejects(copyImage(src(), dst, { tags: ['behind:v1'] }), (e: unknown) => e instanceof DigestMismatchError && e.expected === big.digest);
  assert.equal(hasher.jobs, 1, 'the big blob was hashed behind the writer');
  await nothingCommitted('corrupted byte');

  // Every response of the big blob cut after 4 MiB: the resumes run out.
  proxy.setRule(faultTimes(isBig, { kind: 'drop-response', afterBytes: 4 * 1024 * 1024 }, 100));
  await assert.rejects(copyImage(src(), dst, { tags: ['behind:v1'] }), BlobDownloadError);
  await nothingCommitted('broken transfer');

  // The big blob's body stalls after 4 MiB and the pull is aborted there.
  proxy.setRule(faultTimes(isBig, { kind: 'stall-body', afterBytes: 4 * 1024 * 1024, ms: 10_000 }, 1));
  const ac = new AbortController();
  const pulling = copyImage(src(), dst, {
    tags: ['behind:v1'], signal: ac.signal,
    events: (e) => { if (e.type === 'transfer' && e.id === big.digest.slice(7, 19) && e.current >= 2 * 1024 * 1024) ac.abort(); },
  });
  await assert.rejects(pulling);
  await nothingCommitted('aborted pull');

  // No fault: the blob is stored, byte for byte, and the image tagged.
  proxy.setRule(() => undefined);
  const jobs = hasher.jobs;
  const pulled = await copyImage(src(), dst, { tags: ['behind:v1'] });
  assert.equal(pulled.digest, img.manifest.digest);
  assert.equal(hasher.jobs, jobs + 1);
  assert.ok(readFileSync(store.blobPath(big.digest)).equals(img.blobs.get(big.digest)!));
  assert.deepEqual((await readdir(store.blobsDir)).filter((n) => n.startsWith('.tmp-')), []);
});
