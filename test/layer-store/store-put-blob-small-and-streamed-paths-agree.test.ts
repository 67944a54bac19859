import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LayerStore, digestOf } from '../../layer-store/index.js';
import { SMALL_BLOB_BYTES } from '../../layer-store/store/blobs.js';

// putBlob gathers a blob of known digest and size up to SMALL_BLOB_BYTES in memory and writes it with synchronous
// calls around one fsync; a bigger one, or one of unknown digest, streams to its temp file. Both store the same
// bytes under the same name, refuse a wrong body before anything is visible, and leave no temp file.

function pieces(bytes: Buffer, n: number): Readable {
  const step = Math.ceil(bytes.length / n);
  return Readable.from(Array.from({ length: n }, (_, i) => bytes.subarray(i * step, (i + 1) * step)).filter((b) => b.length > 0));
}

test('blobs at, below and above the small-blob size store the same bytes by either path', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-small-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  for (const size of [0, 1, 1000, SMALL_BLOB_BYTES, SMALL_BLOB_BYTES + 1]) {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096 + size) & 0xff;
    const want = { digest: digestOf(bytes), size };
    const d = await store.putBlob(pieces(bytes, 7), want);
    assert.deepEqual({ digest: d.digest, size: d.size }, want, `size ${size}`);
    assert.ok(readFileSync(store.blobPath(want.digest)).equals(bytes), `size ${size}: the stored bytes`);
    // Again, present: success without reading the body.
    assert.equal((await store.putBlob(Readable.from([Buffer.from('other')]), want)).digest, want.digest);
  }
  assert.deepEqual((await readdir(store.blobsDir)).filter((n) => n.startsWith('.')), [], 'no temp file left');
});

test('a small blob with a wrong body, a short body or an abort leaves nothing', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-small-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const bytes = Buffer.from('a small config blob\n'.repeat(100));
  const want = { digest: digestOf(bytes), size: bytes.length };
  const flipped = Buffer.from(bytes);
  flipped[10] = flipped[10]! ^ 1;
  await assert.rejects(store.putBlob(pieces(flipped, 3), want), /digest/i);
  await assert.rejects(store.putBlob(pieces(bytes.subarray(1), 3), want), /size|digest/i);
  await assert.rejects(store.putBlob(pieces(Buffer.concat([bytes, Buffer.from('x')]), 3), want), /size|digest/i);
  const ac = new AbortController();
  const slow = new Readable({ read() { setTimeout(() => this.push(bytes.subarray(0, 10)), 5); } });
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(store.putBlob(slow, want, { signal: ac.signal }));
  assert.deepEqual(await readdir(store.blobsDir), [], 'no blob and no temp file');
});
