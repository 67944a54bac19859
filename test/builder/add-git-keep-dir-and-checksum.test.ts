// ADD of a git repository served by `git daemon` on loopback: the tree of the ref lands in the destination,
// --keep-git-dir keeps a working .git (HEAD at the commit), --checksum must match the resolved commit (a mismatch
// names both), the step's key names the commit (unchanged: a hit without a fetch; moved: it runs again), COPY of a
// git reference is refused, and a tag resolves to its commit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatError, TsbuildError } from '../../layer-store/index.js';
import { busyboxTar, layerFile, makeBuildEnv, scratchLeft, type BuildEnv } from '../helpers/build-env.js';
import { makeRepo, startGitDaemon, type GitServer, type TestRepo } from '../helpers/git-server.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let repo: TestRepo;
let server: GitServer;
let ctx: string;
let c1: string;

before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  repo = await makeRepo('lib');
  c1 = await repo.commit({ 'src/lib.txt': 'v1\n', 'top.txt': 'top\n' });
  await repo.git('tag', '-a', '-m', 'release', 'v1');
  await repo.push();
  server = await startGitDaemon(repo.root);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-addgit-'));
});
after(async () => {
  await server?.close();
  await env?.cleanup();
  await repo?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

async function buildWith(dockerfile: string, tag: string): Promise<Awaited<ReturnType<BuildEnv['build']>>> {
  await writeFile(join(ctx, 'Dockerfile'), dockerfile);
  return env.build({ context: ctx, tags: [tag] });
}

test('ADD a git ref copies its tree; --keep-git-dir keeps .git at the commit; --checksum matches the commit', async () => {
  const url = `${server.url}/lib.git#main`;
  await buildWith(`FROM busybox\nADD ${url} /src/\n`, 'addgit:plain');
  assert.equal(await layerFile(env, 'addgit:plain', 'src/src/lib.txt'), 'v1\n');
  await assert.rejects(layerFile(env, 'addgit:plain', 'src/.git/HEAD'), 'no .git without --keep-git-dir');

  await buildWith(`FROM busybox\nADD --keep-git-dir --checksum=${c1} ${url} /kept\nRUN cat /kept/.git/HEAD /kept/.git/refs/heads/main > /head.txt\n`, 'addgit:kept');
  assert.equal(await layerFile(env, 'addgit:kept', 'kept/top.txt', 1), 'top\n');
  // As BuildKit: HEAD detached at the commit, the branch kept under its name.
  assert.equal(await layerFile(env, 'addgit:kept', 'head.txt'), `${c1}\n${c1}\n`);

  // A short checksum (a prefix of the commit), and the annotated tag resolving to the same commit.
  await buildWith(`FROM busybox\nADD --checksum=${c1.slice(0, 10)} ${server.url}/lib.git#v1 /t/\n`, 'addgit:tag');
  assert.equal(await layerFile(env, 'addgit:tag', 't/top.txt'), 'top\n');
});

test('a wrong --checksum fails naming the expected and the actual commit, in one line', async () => {
  const bad = 'deadbeef'.repeat(5);
  const e = await buildWith(`FROM busybox\nADD --checksum=${bad} ${server.url}/lib.git#main /x\n`, 'addgit:bad').then(() => undefined, (x: unknown) => x);
  assert.ok(TsbuildError.is(e), String(e));
  const line = formatError(e);
  assert.ok(line.includes(bad) && line.includes(c1), line);
  assert.match(line, /expected checksum to match/);
  assert.match(line, /Dockerfile:2/);
  assert.ok(!line.includes('\n'));
  assert.deepEqual(await scratchLeft(env.root), []);
});

test('the step key names the commit: unchanged (with or without --checksum) is a hit, a moved branch runs the step again', async () => {
  const df = `FROM busybox\nADD ${server.url}/lib.git#main:src /lib/\n`;
  await buildWith(df, 'addgit:k1');
  const hit = await buildWith(df, 'addgit:k1');
  assert.ok(hit.steps.every((s) => s.cached), 'same commit: a hit');
  // Adding --checksum of the same commit keeps the key (BuildKit's testAddGitChecksumCache).
  const withChecksum = await buildWith(df.replace('ADD ', `ADD --checksum=${await repo.git('rev-parse', 'HEAD')} `), 'addgit:k1');
  assert.ok(withChecksum.steps.every((s) => s.cached), '--checksum of the same commit: still a hit');
  await repo.commit({ 'src/lib.txt': 'v2\n' });
  const moved = await buildWith(df, 'addgit:k2');
  assert.ok(!moved.steps[0]!.cached, 'moved branch: the ADD runs');
  assert.equal(await layerFile(env, 'addgit:k2', 'lib/lib.txt'), 'v2\n');
});

test('COPY of a git reference and a wrong ref are errors naming the source', async () => {
  const e1 = await buildWith(`FROM busybox\nCOPY ${server.url}/lib.git#main /x\n`, 'addgit:copy').then(() => undefined, (x: unknown) => x);
  assert.match(formatError(e1), /COPY/);
  const e2 = await buildWith(`FROM busybox\nADD ${server.url}/lib.git#nope /x\n`, 'addgit:nope').then(() => undefined, (x: unknown) => x);
  assert.match(formatError(e2), /ADD git:\/\/127\.0\.0\.1:\d+\/lib\.git#nope: repository does not contain ref nope/);
  assert.match(formatError(e2), /Dockerfile:2/);
});
