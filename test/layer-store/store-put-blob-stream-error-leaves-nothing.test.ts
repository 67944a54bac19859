import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LayerStore, digestOf } from '../../layer-store/index.js';

test('a body stream that fails mid-way leaves no blob and no temp file', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root);
  const chunk = Buffer.alloc(64 * 1024, 1);
  const full = Buffer.concat([chunk, chunk, chunk, chunk]);
  for (const want of [{ digest: digestOf(full), size: full.length }, {}]) {
    let n = 0;
    const body = new Readable({
      read() {
        n++;
        if (n <= 2) this.push(chunk);
        else this.destroy(new Error('connection reset'));
      },
    });
    await assert.rejects(store.putBlob(body, want), /connection reset/);
    assert.equal(existsSync(store.blobPath(digestOf(full))), false);
    assert.equal(existsSync(store.blobPath(digestOf(Buffer.concat([chunk, chunk])))), false);
    assert.deepEqual(await readdir(store.blobsDir), []);
  }
  // an aborted write leaves nothing either
  const ac = new AbortController();
  const slow = new Readable({ read() { setTimeout(() => this.push(chunk), 5); } });
  setTimeout(() => ac.abort(), 30);
  await assert.rejects(store.putBlob(slow, {}, { signal: ac.signal }));
  assert.deepEqual(await readdir(store.blobsDir), []);
});
