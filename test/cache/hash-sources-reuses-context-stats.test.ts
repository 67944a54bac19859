/**
 * The builder's path: builder/context selects a COPY's sources (one lstat per path) and hashSources reuses
 * those stats, so a warm, unchanged context is hashed without a second lstat and without reading any file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextMatcher, parseDockerignore, selectSources } from '../../builder/context/index.js';
import { RACY_MARGIN_MS, StatCache, hashSources, sha256File } from '../../cache/index.js';

test('selectSources → hashSources: warm run reads nothing; the digest ignores .dockerignore-d files', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-statcache-'));
  t.after(() => rm(ctx, { recursive: true, force: true }));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(ctx, 'app'));
  for (let i = 0; i < 50; i++) await writeFile(join(ctx, 'app', `m${i}.js`), `module ${i}`);
  await writeFile(join(ctx, 'app', 'debug.log'), 'noise');
  await sleep(RACY_MARGIN_MS + 50);
  const matcher = new ContextMatcher(parseDockerignore('**/*.log\n'));
  let reads = 0;
  const hashFile = (p: string): Promise<string> => {
    reads++;
    return sha256File(p);
  };
  const cache = await StatCache.open(dir, { name: ctx });
  const sel1 = await selectSources(ctx, ['app'], matcher);
  const h1 = await hashSources(ctx, sel1, cache, { hashFile });
  assert.equal(reads, 50);
  assert.ok(!('app/debug.log' in h1.files));

  await writeFile(join(ctx, 'app', 'debug.log'), 'more noise');
  reads = 0;
  const sel2 = await selectSources(ctx, ['app'], matcher);
  const h2 = await hashSources(ctx, sel2, cache, { hashFile });
  assert.equal(reads, 0);
  assert.equal(h2.digest, h1.digest, 'an ignored file never changes the key');
});
