import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerStore, MediaTypes, TsbuildError, encodeDocument, buildConfig, buildManifest } from '../../layer-store/index.js';

test('a lock left by a dead process is broken; a live holder makes writers wait, then fail with STORE_LOCKED', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = await LayerStore.open(root, { lockTimeoutMs: 300 });
  const cfg = encodeDocument(buildConfig({ diffIds: [] }), MediaTypes.ociConfig);
  const config = await store.putBytes(cfg.bytes, cfg.descriptor);
  const man = encodeDocument(buildManifest(config, []), MediaTypes.ociManifest);
  const desc = await store.putBytes(man.bytes, man.descriptor);
  const lock = join(root, 'index.json.lock');

  const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
  await writeFile(lock, `${dead} ${hostname()} 2024-01-01T00:00:00Z\n`);
  await store.tag('after-crash', desc);
  assert.equal(existsSync(lock), false, 'the stale lock was removed and ours released');

  await writeFile(lock, `${process.pid} ${hostname()} 2024-01-01T00:00:00Z\n`); // a live holder
  const started = Date.now();
  await assert.rejects(store.tag('blocked', desc), (e: unknown) => TsbuildError.is(e) && e.code === 'STORE_LOCKED');
  assert.ok(Date.now() - started >= 250, 'it waited for the holder');
  await rm(lock);
  assert.deepEqual((await store.listImages()).flatMap((e) => e.names), ['docker.io/library/after-crash:latest']);
});
