/**
 * `<root>/cache/git` (the checkouts of git contexts and ADD of a repository) goes with the build cache, as BuildKit's
 * git sources go with `buildx prune`: `tsbuild prune` keeps it, `prune --cache` removes it (all, those unused for
 * `--filter until=`, the least recently used beyond `--keep-storage`), never an entry a live lease holds, and a
 * fetch a killed build left. Real builds against a `git daemon` on loopback, the real CLI.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneGitCache } from '../../builder/index.js';
import { Lease } from '../../layer-store/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { makeRepo, startGitDaemon, type GitServer, type TestRepo } from '../helpers/git-server.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
let repo: TestRepo;
let server: GitServer;
let c1: string;
let c2: string;

const tsbuild = (root: string, args: string[]): CliResult => runCli(['--root', root, '--progress', 'plain', ...args]);
const entries = async (root: string): Promise<string[]> => (await readdir(join(root, 'cache', 'git')).catch(() => [] as string[])).sort();
const daysAgo = (d: number): Date => new Date(Date.now() - d * 86_400_000);

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-prune-git-'));
  repo = await makeRepo('lib');
  c1 = await repo.commit({ 'Dockerfile': 'FROM busybox:latest\nCOPY a.txt /a.txt\n', 'a.txt': 'one\n' });
  c2 = await repo.commit({ 'a.txt': 'two\n' });
  await repo.push();
  server = await startGitDaemon(repo.root);
});
after(async () => {
  await server?.close();
  await repo?.cleanup();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('prune keeps the git checkouts; prune --cache removes them by until=, keeps leased ones, and a rebuild fetches again', { timeout: 180_000 }, async () => {
  const root = join(work, 'root');
  const ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), `FROM busybox:latest\nADD ${server.url}/lib.git#${c1} /src\n`);
  assert.equal(tsbuild(root, ['import', bb.tar, 'busybox:latest']).code, 0);
  const add = tsbuild(root, ['build', '-t', 'g:add', ctx]);
  assert.equal(add.code, 0, add.stderr);
  const context = tsbuild(root, ['build', '-t', 'g:ctx', `${server.url}/lib.git#main`]);
  assert.equal(context.code, 0, context.stderr);
  assert.deepEqual(await entries(root), [c1, c2].sort(), 'one checkout per commit: ADD\'s and the context\'s');
  const du = JSON.parse(tsbuild(root, ['du', '--format', 'json']).stdout) as { gitCheckouts: { count: number; bytes: number } };
  assert.equal(du.gitCheckouts.count, 2);
  assert.ok(du.gitCheckouts.bytes > 0);

  assert.equal(tsbuild(root, ['prune']).code, 0);
  assert.deepEqual(await entries(root), [c1, c2].sort(), 'prune without --cache keeps the build cache, git checkouts included');

  // ADD's checkout was last used two days ago; the context's now.
  await utimes(join(root, 'cache', 'git', c1), daysAgo(2), daysAgo(2));
  const until = tsbuild(root, ['prune', '--cache', '--filter', 'until=24h']);
  assert.equal(until.code, 0, until.stderr);
  assert.match(until.stdout, /^Deleted 1 git checkouts \(/m);
  assert.deepEqual(await entries(root), [c2]);
  assert.equal(tsbuild(root, ['prune', '--cache', '--keep-storage', '1g']).code, 0);
  assert.deepEqual(await entries(root), [c2], 'under the budget: kept');

  // A live lease (a build reading the checkout, or fetching it) keeps the entry and its fetch; a dead fetch goes.
  const dead = join(root, 'cache', 'git', `.fetch-${'0'.repeat(40)}-AbC123`);
  const inFlight = join(root, 'cache', 'git', `.fetch-${c1}-XyZ789`);
  await mkdir(dead);
  await mkdir(inFlight);
  const lease = await Lease.acquire(root);
  try {
    await lease.add({ paths: [`cache/git/${c2}`, `cache/git/${c1}`] });
    const held = tsbuild(root, ['prune', '--cache']);
    assert.equal(held.code, 0, held.stderr);
    assert.deepEqual(await entries(root), [`.fetch-${c1}-XyZ789`, c2], 'the leased entry and the leased fetch stay; the dead fetch is gone');
  } finally {
    await lease.release();
  }
  const all = tsbuild(root, ['prune', '--cache']);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /^Deleted 2 git checkouts \(/m);
  assert.deepEqual(await entries(root), []);

  // The cache is only a cache: the next build fetches the commit again.
  const again = tsbuild(root, ['build', '-t', 'g:add', ctx]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`fetching .*${c1}`));
  assert.deepEqual(await entries(root), [c1]);
  assert.ok(existsSync(join(root, 'cache', 'git', c1, 'a.txt')));
});

test('--keep-storage keeps the most recently used checkouts that fit, dropping the least recently used first', async () => {
  const dir = join(work, 'lru');
  const sizes: Record<string, number> = { old: 3000, mid: 2000, new: 1000 };
  for (const [i, [name, size]] of Object.entries(sizes).entries()) {
    await mkdir(join(dir, name, 'sub'), { recursive: true });
    await writeFile(join(dir, name, 'sub', 'f'), Buffer.alloc(size));
    await utimes(join(dir, name), daysAgo(3 - i), daysAgo(3 - i));
  }
  const r = await pruneGitCache(dir, { keepBytes: 3000, leased: () => false });
  assert.deepEqual(r.removed, ['old'], 'old goes first; mid + new fit in 3000 bytes');
  assert.equal(r.freedBytes, 3000);
  assert.equal(r.keptBytes, 3000);
  const tight = await pruneGitCache(dir, { keepBytes: 1500, leased: (e) => e === 'mid' });
  assert.deepEqual(tight.removed, ['new'], 'mid is leased: kept over the budget, so new goes');
  assert.deepEqual((await readdir(dir)).sort(), ['mid']);
});
