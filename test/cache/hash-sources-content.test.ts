/** hashSources covers content, mode, owner, type and link targets of exactly the selected files, and never mtimes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, symlink, unlink, utimes, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatCache, hashSources } from '../../cache/index.js';

async function setup(t: { after(fn: () => Promise<void>): void }): Promise<{ ctx: string; cache: StatCache }> {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-hash-'));
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-statcache-'));
  t.after(() => rm(ctx, { recursive: true, force: true }));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(ctx, 'd'));
  await writeFile(join(ctx, 'd', 'a.txt'), 'alpha');
  await writeFile(join(ctx, 'b.txt'), 'beta');
  await writeFile(join(ctx, 'unselected'), 'x');
  await symlink('a.txt', join(ctx, 'd', 'link'));
  return { ctx, cache: await StatCache.open(dir) };
}

const SEL = { paths: ['b.txt', 'd', 'd/a.txt', 'd/link'] };

test('mtimes and unselected files do not change the digest; content, mode and link targets do', async (t) => {
  const { ctx, cache } = await setup(t);
  const h0 = await hashSources(ctx, SEL, cache);
  assert.deepEqual(Object.keys(h0.files), ['b.txt', 'd', 'd/a.txt', 'd/link']);
  assert.match(h0.files['d/link']!, /^symlink\|/);
  assert.ok(h0.files['d/link']!.endsWith('|a.txt'));

  await utimes(join(ctx, 'b.txt'), new Date(2001, 1, 1), new Date(2001, 1, 1));
  await utimes(join(ctx, 'd'), new Date(2002, 1, 1), new Date(2002, 1, 1));
  await writeFile(join(ctx, 'unselected'), 'changed');
  assert.equal((await hashSources(ctx, SEL, cache)).digest, h0.digest, 'mtime and unselected edits are invisible');

  await writeFile(join(ctx, 'b.txt'), 'beta2');
  const h1 = await hashSources(ctx, SEL, cache);
  assert.notEqual(h1.digest, h0.digest, 'content');
  await writeFile(join(ctx, 'b.txt'), 'beta');
  assert.equal((await hashSources(ctx, SEL, cache)).digest, h0.digest, 'same content again gives the same digest');

  await chmod(join(ctx, 'd', 'a.txt'), 0o755);
  assert.notEqual((await hashSources(ctx, SEL, cache)).digest, h0.digest, 'mode');
  await chmod(join(ctx, 'd', 'a.txt'), 0o644);

  await unlink(join(ctx, 'd', 'link'));
  await symlink('b.txt', join(ctx, 'd', 'link'));
  assert.notEqual((await hashSources(ctx, SEL, cache)).digest, h0.digest, 'link target');
});

test('the digest does not depend on the order paths are given in; a vanished file is an IO error', async (t) => {
  const { ctx, cache } = await setup(t);
  const a = await hashSources(ctx, SEL, cache);
  const b = await hashSources(ctx, { paths: [...SEL.paths].reverse() }, cache);
  assert.equal(a.digest, b.digest);
  await assert.rejects(hashSources(ctx, { paths: ['missing'] }, cache), { code: 'IO' });
});
