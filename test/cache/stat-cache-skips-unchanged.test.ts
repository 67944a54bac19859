/**
 * An unchanged context is verified with lstat only: the persistent stat cache answers every file, no file is
 * read; after editing one file only that file is read again. Reads are counted through the injected hashFile.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RACY_MARGIN_MS, StatCache, hashSources, sha256File } from '../../cache/index.js';

const N = 500;

test('unchanged files are not read again, across a reopen of the stat cache; an edited file is', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-statcache-'));
  t.after(() => rm(ctx, { recursive: true, force: true }));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const paths: string[] = [];
  for (let d = 0; d < 10; d++) {
    await mkdir(join(ctx, `d${d}`));
    paths.push(`d${d}`);
    for (let f = 0; f < N / 10; f++) {
      await writeFile(join(ctx, `d${d}`, `f${f}`), `file ${d}/${f}`);
      paths.push(`d${d}/f${f}`);
    }
  }
  // Files written within the racy margin of being hashed are never trusted; let them age.
  await sleep(RACY_MARGIN_MS + 50);

  const reads: string[] = [];
  const hashFile = async (p: string): Promise<string> => {
    reads.push(p);
    return sha256File(p);
  };
  const first = await StatCache.open(dir, { name: ctx });
  const h1 = await hashSources(ctx, { paths }, first, { hashFile });
  assert.equal(reads.length, N, 'a cold cache reads every file once');
  await first.save();

  reads.length = 0;
  const second = await StatCache.open(dir, { name: ctx });
  assert.equal(second.size, N);
  const h2 = await hashSources(ctx, { paths }, second, { hashFile });
  assert.equal(h2.digest, h1.digest);
  assert.deepEqual(reads, [], 'a warm cache reads no file');
  assert.deepEqual(second.stats, { hits: N, misses: 0 });

  await writeFile(join(ctx, 'd3', 'f7'), 'edited');
  await sleep(RACY_MARGIN_MS + 50);
  reads.length = 0;
  const h3 = await hashSources(ctx, { paths }, second, { hashFile });
  assert.deepEqual(reads, [join(ctx, 'd3', 'f7')], 'only the edited file is read');
  assert.notEqual(h3.digest, h1.digest);
});

test('a file changed without changing size or mtime is still re-read (ctime/inode differ)', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-statcache-'));
  t.after(() => rm(ctx, { recursive: true, force: true }));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { utimes, stat } = await import('node:fs/promises');
  await writeFile(join(ctx, 'f'), 'aaaa');
  await sleep(RACY_MARGIN_MS + 50);
  const cache = await StatCache.open(dir);
  const h1 = await hashSources(ctx, { paths: ['f'] }, cache);
  const before = await stat(join(ctx, 'f'));
  await writeFile(join(ctx, 'f'), 'bbbb');
  await utimes(join(ctx, 'f'), before.atime, before.mtime); // same size, same mtime: only ctime tells
  const h2 = await hashSources(ctx, { paths: ['f'] }, cache);
  assert.notEqual(h2.digest, h1.digest);
});

test('a corrupt stat cache file is ignored, not an error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-statcache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const c = await StatCache.open(dir, { name: 'x' });
  await writeFile(c.file, 'garbage\tnot json');
  const again = await StatCache.open(dir, { name: 'x' });
  assert.equal(again.size, 0);
});
