import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DigestMismatchError, LayerStore, SizeMismatchError, digestOf, type Descriptor } from '../../layer-store/index.js';
import { putBlob } from '../../layer-store/store/blobs.js';
import { FileHasher, HASH_BEHIND_MIN_BYTES } from '../../layer-store/store/file-hasher.js';
import { CountingHasher, TEST_HASHER_MIN_BYTES } from '../helpers/counting-hasher.js';

const MIN = TEST_HASHER_MIN_BYTES;

/** `bytes` as a stream of 1 MiB chunks (a download's reads), not verified by anyone. */
function body(bytes: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 1 << 20) chunks.push(bytes.subarray(i, i + (1 << 20)));
  return Readable.from(chunks);
}

test('a big unverified body is hashed from its temp file on the worker: stored when right; a flipped byte, a longer or a shorter body stores nothing and leaves no temp file', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const hasher = new CountingHasher();
  const bytes = randomBytes(MIN + 3 * 1024 * 1024 + 17);
  const want: Descriptor = { mediaType: 'application/octet-stream', digest: digestOf(bytes), size: bytes.length };
  const leftovers = async (): Promise<string[]> => (await readdir(store.blobsDir)).filter((n) => n.startsWith('.tmp-'));

  // One byte flipped near the end (the worker is behind the writer there): DigestMismatchError, nothing stored.
  const bad = Buffer.from(bytes);
  bad[bad.length - 5] = bad[bad.length - 5]! ^ 1;
  await assert.rejects(putBlob(store.layout, body(bad), want, { hasher }), (e: unknown) => e instanceof DigestMismatchError && e.expected === want.digest);
  assert.equal(hasher.jobs, 1, 'the blob went through the hasher');
  assert.equal(await store.hasBlob(want.digest), false);
  assert.deepEqual(await leftovers(), []);

  // Longer than its descriptor: fails before writing past the size; shorter: fails at the end.
  await assert.rejects(putBlob(store.layout, body(Buffer.concat([bytes, Buffer.from('x')])), want, { hasher }), SizeMismatchError);
  await assert.rejects(putBlob(store.layout, body(bytes.subarray(0, bytes.length - 1)), want, { hasher }), SizeMismatchError);
  assert.equal(await store.hasBlob(want.digest), false);
  assert.deepEqual(await leftovers(), []);

  // A body failing mid-way: its error, nothing left.
  let n = 0;
  const failing = new Readable({ read() { if (++n <= 9) this.push(bytes.subarray((n - 1) << 20, n << 20)); else this.destroy(new Error('connection reset')); } });
  await assert.rejects(putBlob(store.layout, failing, want, { hasher }), /connection reset/);
  assert.deepEqual(await leftovers(), []);

  // The right bytes: stored under the digest, byte for byte.
  const jobsBefore = hasher.jobs;
  const d = await putBlob(store.layout, body(bytes), want, { hasher });
  assert.equal(hasher.jobs, jobsBefore + 1);
  assert.equal(d.digest, want.digest);
  assert.ok(readFileSync(store.blobPath(want.digest)).equals(bytes));
  assert.deepEqual(await leftovers(), []);

  // The store's own putBlob takes the same path for a body of its hasher's size (and its worker does not keep the
  // process alive: the test ends).
  const other = randomBytes(HASH_BEHIND_MIN_BYTES);
  const otherWant: Descriptor = { mediaType: 'application/octet-stream', digest: digestOf(other), size: other.length };
  const flipped = Buffer.from(other);
  flipped[1] = flipped[1]! ^ 0x80;
  await assert.rejects(store.putBlob(body(flipped), otherWant), DigestMismatchError);
  assert.equal(await store.hasBlob(otherWant.digest), false);
  assert.equal((await store.putBlob(body(other), otherWant)).digest, otherWant.digest);
  assert.deepEqual(await leftovers(), []);
});

test('a small unverified body is hashed on the way in, as before (no worker job)', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const hasher = new CountingHasher();
  const bytes = randomBytes(64 * 1024);
  const want: Descriptor = { mediaType: 'application/octet-stream', digest: digestOf(bytes), size: bytes.length };
  const bad = Buffer.from(bytes);
  bad[0] = bad[0]! ^ 1;
  await assert.rejects(putBlob(store.layout, body(bad), want, { hasher }), DigestMismatchError);
  assert.equal((await putBlob(store.layout, body(bytes), want, { hasher })).digest, want.digest);
  assert.equal(hasher.jobs, 0);
  assert.deepEqual((await readdir(store.blobsDir)).filter((n) => n.startsWith('.tmp-')), []);
});

/** `bytes` in 1 MiB chunks; once `at` chunks are read, `then()` runs before the rest flows (the worker ended mid-blob). */
function bodyWithPause(bytes: Buffer, at: number, then: () => Promise<void>): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    let n = 0;
    for (let i = 0; i < bytes.length; i += 1 << 20) {
      if (n++ === at) await then();
      yield bytes.subarray(i, i + (1 << 20));
    }
  }
  return Readable.from(gen());
}

test('a worker that ends mid-blob: the job hashes the written temp file on this thread, so the right bytes are stored and a flipped byte is still refused', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const hasher = new CountingHasher();
  t.after(() => hasher.terminate());
  const bytes = randomBytes(MIN + 5 * 1024 * 1024 + 3);
  const want: Descriptor = { mediaType: 'application/octet-stream', digest: digestOf(bytes), size: bytes.length };
  const leftovers = async (): Promise<string[]> => (await readdir(store.blobsDir)).filter((n) => n.startsWith('.tmp-'));

  const bad = Buffer.from(bytes);
  bad[bad.length - 2] = bad[bad.length - 2]! ^ 1;
  await assert.rejects(putBlob(store.layout, bodyWithPause(bad, 4, () => hasher.terminate()), want, { hasher }), (e: unknown) => e instanceof DigestMismatchError && e.expected === want.digest);
  assert.equal(hasher.jobs, 1, 'the blob went through the hasher');
  assert.equal(await store.hasBlob(want.digest), false);
  assert.deepEqual(await leftovers(), []);

  const d = await putBlob(store.layout, bodyWithPause(bytes, 4, () => hasher.terminate()), want, { hasher });
  assert.equal(hasher.jobs, 2);
  assert.equal(d.digest, want.digest);
  assert.ok(readFileSync(store.blobPath(want.digest)).equals(bytes));
  assert.deepEqual(await leftovers(), []);
});

test('an idle hasher ends its worker; the next big blob starts a new one', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  try {
    const store = await LayerStore.open(root);
    const hasher = new FileHasher({ minBytes: MIN, idleMs: 50 });
    for (let round = 0; round < 2; round++) {
      const bytes = randomBytes(MIN + round);
      const want: Descriptor = { mediaType: 'application/octet-stream', digest: digestOf(bytes), size: bytes.length };
      assert.equal((await putBlob(store.layout, body(bytes), want, { hasher })).digest, want.digest);
      assert.equal(hasher.running, true, 'the worker runs right after its job');
      const deadline = Date.now() + 5000;
      while (hasher.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(hasher.running, false, 'the idle worker ended');
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
