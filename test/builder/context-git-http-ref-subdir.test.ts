// A git repository as the build context, served by `git http-backend` on loopback: `#ref:subdir` picks the branch
// and the directory (its Dockerfile is the one used), a rebuild of the same commit fetches nothing, a moved branch
// is fetched again, and a wrong ref or an unreachable server fails with one line naming the reference.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatError, TsbuildError } from '../../layer-store/index.js';
import { runBuildPipeline } from '../../builder/index.js';
import { busyboxTar, layerFile, makeBuildEnv, scratchLeft, type BuildEnv } from '../helpers/build-env.js';
import { freePort, makeRepo, startGitHttp, type TestRepo } from '../helpers/git-server.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let repo: TestRepo;
let server: Awaited<ReturnType<typeof startGitHttp>>;
let first: string;

before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  repo = await makeRepo('app');
  await repo.commit({ 'README': 'root\n', 'Dockerfile': 'FROM busybox\nCOPY README /\n' });
  await repo.git('checkout', '-q', '-b', 'feature');
  first = await repo.commit({ 'svc/Dockerfile': 'FROM busybox\nCOPY . /svc/\n', 'svc/hello.txt': 'hello from feature\n' });
  await repo.git('checkout', '-q', 'main');
  server = await startGitHttp(repo.root);
});
after(async () => {
  await server?.close();
  await env?.cleanup();
  await repo?.cleanup();
  await bb?.cleanup();
});

const pipeline = (context: string, tags: string[] = []): ReturnType<typeof runBuildPipeline> =>
  runBuildPipeline({ context, tags, store: env.store, cache: env.cache, runtime: env.runtime });

test('a git URL with #branch:subdir builds that directory of that branch with its Dockerfile; a rebuild fetches nothing', async () => {
  const url = `${server.url}/app.git#feature:svc`;
  const r = await pipeline(url, ['gitctx:1']);
  assert.equal(await layerFile(env, 'gitctx:1', 'svc/hello.txt'), 'hello from feature\n');
  await assert.rejects(layerFile(env, 'gitctx:1', 'README'), 'only the subdir is the context');
  assert.equal(r.steps.length, 1);
  const fetchesAfterFirst = server.fetches();
  assert.ok(fetchesAfterFirst >= 1, 'the first build fetched');
  assert.ok((await readdir(join(env.root, 'cache', 'git'))).includes(first), 'the checkout is cached by its commit');

  const again = await pipeline(url, ['gitctx:1']);
  assert.equal(server.fetches(), fetchesAfterFirst, 'a rebuild of the same commit fetches nothing');
  assert.equal(again.configDigest, r.configDigest);
  assert.ok(again.steps.every((s) => s.cached));

  // The branch moves: the new commit is fetched and the COPY runs again.
  await repo.git('checkout', '-q', 'feature');
  await repo.commit({ 'svc/hello.txt': 'hello again\n' });
  await repo.git('checkout', '-q', 'main');
  const moved = await pipeline(url, ['gitctx:2']);
  assert.ok(server.fetches() > fetchesAfterFirst);
  assert.equal(await layerFile(env, 'gitctx:2', 'svc/hello.txt'), 'hello again\n');
  assert.ok(!moved.steps[0]!.cached);
  assert.deepEqual(await scratchLeft(env.root), []);
});

test('the query form ?ref=&subdir= and no ref (the default branch) work as BuildKit reads them', async () => {
  await pipeline(`${server.url}/app.git?ref=feature&subdir=svc`, ['gitctx:q']);
  assert.match(await layerFile(env, 'gitctx:q', 'svc/hello.txt'), /^hello/);
  await pipeline(`${server.url}/app.git`, ['gitctx:main']);
  assert.equal(await layerFile(env, 'gitctx:main', 'README'), 'root\n');
});

test('BUILDKIT_CONTEXT_KEEP_GIT_DIR=1 keeps the context\'s .git (HEAD detached at the commit); an absolute -f is used as is', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-keepgit-'));
  try {
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY .git/HEAD /head\n');
    const main = (await repo.git('rev-parse', 'main')).trim();
    await runBuildPipeline({
      context: `${server.url}/app.git#main`, dockerfile: join(dir, 'Dockerfile'), tags: ['gitctx:keep'], buildArgs: { BUILDKIT_CONTEXT_KEEP_GIT_DIR: '1' },
      store: env.store, cache: env.cache, runtime: env.runtime,
    });
    assert.equal(await layerFile(env, 'gitctx:keep', 'head'), `${main}\n`);
    const e = await runBuildPipeline({ context: `${server.url}/app.git#main`, dockerfile: join(dir, 'Dockerfile'), store: env.store, cache: env.cache, runtime: env.runtime })
      .then(() => undefined, (x: unknown) => x);
    assert.match(formatError(e), /\.git\/HEAD/, 'without it there is no .git');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a wrong ref, a missing subdir and an unreachable server each fail with one line naming the reference', async () => {
  const cases: [string, RegExp][] = [
    [`${server.url}/app.git#nosuchbranch`, /does not contain ref nosuchbranch/],
    [`${server.url}/app.git#feature:nodir`, /no directory nodir in commit [0-9a-f]{40}/],
    [`http://127.0.0.1:${await freePort()}/app.git#main`, /cannot list the refs of http:\/\/127\.0\.0\.1:\d+\/app\.git: .*(refused|connect)/i],
  ];
  for (const [url, re] of cases) {
    const e = await pipeline(url).then(() => undefined, (x: unknown) => x);
    assert.ok(TsbuildError.is(e), `${url}: ${String(e)}`);
    const line = formatError(e);
    assert.match(line, re);
    assert.ok(!line.includes('\n'), `one line: ${line}`);
    assert.ok(line.includes(url.replace(/#.*/, '')) || line.includes('127.0.0.1'), `names the reference: ${line}`);
  }
  assert.deepEqual(await scratchLeft(env.root), []);
  assert.deepEqual((await readdir(join(env.root, 'cache', 'git'))).filter((n) => n.startsWith('.fetch-')), [], 'no fetch left half-done');
});
