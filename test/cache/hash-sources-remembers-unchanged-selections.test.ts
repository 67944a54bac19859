/**
 * hashSources with `memo`: a selection whose lstat print (every path, mode, owner, size, mtime, ctime, inode) is
 * the one remembered is answered without a per-file lookup and without reading or rewriting anything; every change
 * a COPY's key sees (content, even within the same second at the same size; mode; owner; xattrs; an added or
 * removed file; a .dockerignore change) still gives the digest a fresh stat cache computes, and an mtime-only
 * change keeps it (fingerprints have no mtimes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextMatcher, parseDockerignore, selectSources } from '../../builder/context/index.js';
import { RACY_MARGIN_MS, StatCache, hashSources, sha256File } from '../../cache/index.js';

test('a remembered selection is answered from its lstat print; every change still gives a fresh cache\'s digest', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-statcache-'));
  const fresh = await mkdtemp(join(tmpdir(), 'tsbuild-statcache-fresh-'));
  t.after(() => rm(ctx, { recursive: true, force: true }));
  t.after(() => rm(dir, { recursive: true, force: true }));
  t.after(() => rm(fresh, { recursive: true, force: true }));
  await mkdir(join(ctx, 'app', 'd'), { recursive: true });
  for (let i = 0; i < 30; i++) await writeFile(join(ctx, 'app', i % 2 ? 'd' : '', `f${i}.js`), `module ${i}\n`);
  await writeFile(join(ctx, 'app', 'x.log'), 'log\n');
  let ignore = '';
  let reads = 0;
  const hashFile = (p: string): Promise<string> => {
    reads++;
    return sha256File(p);
  };
  let freshN = 0;
  /** One build's hashing: a reopened cache with memo, saved; checked against a new, empty cache without memo. */
  const hash = async (): Promise<{ digest: string; files: boolean; hits: number }> => {
    const sel = await selectSources(ctx, ['app'], new ContextMatcher(parseDockerignore(ignore)));
    const cache = await StatCache.open(dir, { name: ctx });
    const h = await hashSources(ctx, sel, cache, { ownership: true, memo: true, hashFile });
    await cache.save();
    const truth = await hashSources(ctx, sel, await StatCache.open(fresh, { name: `n${freshN++}` }), { ownership: true });
    assert.equal(h.digest, truth.digest, 'the digest a fresh cache computes');
    return { digest: h.digest, files: h.files !== undefined, hits: cache.stats.hits };
  };
  await sleep(RACY_MARGIN_MS + 50);
  const first = await hash();
  assert.equal(first.files, true, 'a new selection is hashed file by file');

  // Unchanged: answered by the print, nothing read, the cache file not rewritten.
  reads = 0;
  const written = statSync(join(dir, readdirSync(dir)[0]!)).mtimeMs;
  const same = await hash();
  assert.equal(same.digest, first.digest);
  assert.equal(same.files, false, 'answered without per-file fingerprints');
  assert.equal(same.hits, 31, 'every file answered');
  assert.equal(reads, 0);
  assert.equal(statSync(join(dir, readdirSync(dir)[0]!)).mtimeMs, written, 'nothing rewritten');

  // Content changed at the same size, mtime put back: ctime tells.
  const f3 = join(ctx, 'app', 'd', 'f3.js');
  const before = await stat(f3);
  await writeFile(f3, 'MODULE 3\n');
  await utimes(f3, before.atime, before.mtime);
  await sleep(RACY_MARGIN_MS + 50);
  const edited = await hash();
  assert.notEqual(edited.digest, first.digest);

  // Changed twice within the same second at the same size: the first version is too fresh to be remembered.
  await writeFile(f3, 'mod_le 3\n');
  const racy = await hash();
  await writeFile(f3, 'mod:le 3\n');
  const racy2 = await hash();
  assert.notEqual(racy2.digest, racy.digest, 'a second write within the same second is seen');
  await sleep(RACY_MARGIN_MS + 50);
  assert.equal((await hash()).digest, racy2.digest);
  assert.equal((await hash()).files, false, 'remembered once it is old enough');

  // mtime only: the print changes, the digest does not (fingerprints have no mtimes).
  const settled = await hash();
  await utimes(f3, 1_600_000_000, 1_600_000_000);
  await sleep(RACY_MARGIN_MS + 50);
  assert.equal((await hash()).digest, settled.digest);

  // Mode, owner, xattrs, a new file, a removed file, a .dockerignore change: each a new digest.
  const seen = new Set([first.digest, edited.digest, settled.digest]);
  const changes: [string, () => Promise<void>][] = [
    ['mode', () => chmod(f3, 0o600)],
    ['owner', () => chown(f3, 1234, 1234)],
    ['xattr', async () => { execFileSync('setfattr', ['-n', 'user.k', '-v', 'v', f3]); }],
    ['xattr value', async () => { execFileSync('setfattr', ['-n', 'user.k', '-v', 'w', f3]); }],
    ['new file', () => writeFile(join(ctx, 'app', 'd', 'new.js'), 'new\n')],
    ['removed file', () => rm(join(ctx, 'app', 'f0.js'))],
    ['.dockerignore', async () => { ignore = '**/*.log\n'; }],
  ];
  for (const [what, change] of changes) {
    await change();
    await sleep(RACY_MARGIN_MS + 50);
    const h = await hash();
    assert.ok(!seen.has(h.digest), `${what} changes the digest`);
    seen.add(h.digest);
    assert.equal((await hash()).files, false, `${what}: remembered again`);
  }
});
