/** `CacheStore.prune({ keep })` keeps the records a running build has leased, whatever the size limit says. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Digest } from '../../layer-store/index.js';
import { CacheStore, stepKey, type StepInputs } from '../../cache/index.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('cache prune keeps the records named in `keep` (leased by a running build)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-lease-cache-'));
  dirs.push(root);
  const cache = await CacheStore.open(join(root, 'cache', 'steps'));
  const keys: Digest[] = [];
  for (const n of [1, 2]) {
    const inputs: StepInputs = { v: 1, parent: `scratch:linux/amd64`, instruction: `RUN echo ${n}`, platform: 'linux/amd64', env: [], mounts: [] };
    const key = stepKey(inputs);
    keys.push(key);
    await cache.put({ key, inputs, result: { emptyLayer: true }, createdAt: Date.now(), lastUsedAt: Date.now() });
  }
  const pr = await cache.prune({ keepBytes: 0, keep: new Set([keys[0]!]) });
  assert.deepEqual(pr.removed, [keys[1]]);
  assert.ok(await cache.get(keys[0]!));
});
