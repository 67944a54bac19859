/**
 * A layer blob the registry serves with the wrong bytes is never stored: fetchLayer rejects with CacheFetchError
 * (the builder rebuilds the step), the record stops hitting, the failure is logged once, and the store keeps nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheFetchError, exportCache, importCache } from '../../cache/index.js';
import { LayerStore, digestHex, type Logger } from '../../layer-store/index.js';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { startRegistry } from '../helpers/registry.js';
import { makeFixture, tempDir } from './remote-fixture.js';

test('a remote layer whose bytes do not match its digest is a miss, logged once, and leaves nothing in the store', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const fx = await makeFixture();
  t.after(fx.cleanup);
  const client = new RegistryClient();
  t.after(() => client.close());
  const ref = `${reg.host}/cache/corrupt:latest`;
  await exportCache(fx.records, fx.store, client.destination(parseReference(ref)), { mode: 'min' });

  // Flip one byte of the victim's blob inside distribution's own storage.
  const victim = fx.records[0]!;
  const hex = digestHex(victim.result.layer!.digest);
  const blobFile = join(reg.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
  const bytes = await readFile(blobFile);
  const mid = bytes.length >> 1;
  bytes[mid] = bytes[mid]! ^ 0xff;
  await writeFile(blobFile, bytes);

  const warnings: string[] = [];
  const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (m) => warnings.push(m) };
  const fresh = await tempDir('tsbuild-remote-cache-corrupt-');
  t.after(fresh.cleanup);
  const store2 = await LayerStore.open(fresh.dir);
  const remote = await importCache(client.source(parseReference(ref)), { logger });
  t.after(() => remote.close());
  const rec = remote.get(victim.key);
  assert.ok(rec, 'the record itself is fine');
  await assert.rejects(remote.fetchLayer(rec, store2), (e) => e instanceof CacheFetchError && e.code === 'REGISTRY');
  assert.equal(await store2.hasBlob(victim.result.layer!.digest), false);
  // (a putBlob temp file is the store's business: its gc removes stale ones)
  assert.deepEqual((await readdir(store2.blobsDir)).filter((n) => !n.startsWith('.tmp-')), [], 'nothing stored');
  assert.equal(remote.get(victim.key), undefined, 'the step now misses');
  await assert.rejects(remote.fetchLayer(rec, store2), CacheFetchError);
  assert.equal(warnings.length, 1, 'logged once');
  // Other hits still work.
  const other = fx.records[1]!;
  await remote.fetchLayer(remote.get(other.key)!, store2);
  assert.equal(await store2.hasBlob(other.result.layer!.digest), true);
});
