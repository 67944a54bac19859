// `tsbuild build` as a buildx user runs it: a git URL as the context (served by git http-backend on loopback) with
// `-f` a path inside the repository, and `--ssh ID=KEYFILE` for a RUN --mount=type=ssh; a bad --ssh value and a
// wrong ref are one error line each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LayerStore, importRootfs } from '../../layer-store/index.js';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { onlyErrorLine, runCliAsync } from '../helpers/cli.js';
import { makeRepo, startGitHttp, type TestRepo } from '../helpers/git-server.js';

const run = promisify(execFile);
let bb: BusyboxRootfs;
let root: string;
let repo: TestRepo;
let server: Awaited<ReturnType<typeof startGitHttp>>;
let keyDir: string;

before(async () => {
  bb = await makeBusyboxRootfs({ tar: true });
  root = await mkdtemp(join(tmpdir(), 'tsbuild-cli-git-'));
  const store = await LayerStore.open(root);
  await importRootfs(store, bb.tar!, 'busybox:latest', { created: '1970-01-01T00:00:00.000Z' });
  repo = await makeRepo('site');
  await repo.commit({
    'docker/build.Dockerfile': 'FROM busybox\nCOPY docker/msg.txt /msg.txt\nRUN --mount=type=ssh,id=deploy,required=true test -S "$SSH_AUTH_SOCK"\n',
    'docker/msg.txt': 'built from git\n',
  });
  server = await startGitHttp(repo.root);
  keyDir = await mkdtemp(join(tmpdir(), 'tsbuild-cli-key-'));
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'id')]);
});
after(async () => {
  await server?.close();
  await repo?.cleanup();
  await bb?.cleanup();
  if (root) await rm(root, { recursive: true, force: true });
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

test('a git URL context with -f inside the repository and --ssh ID=KEYFILE builds', async () => {
  const r = await runCliAsync(['--root', root, '--progress', 'quiet', 'build', '-t', 'site:1', '-f', 'docker/build.Dockerfile',
    '--ssh', `deploy=${join(keyDir, 'id')}`, `${server.url}/site.git#main`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
});

test('--ssh with a missing key file and a wrong ref are one error line each', async () => {
  const r1 = await runCliAsync(['--root', root, 'build', '--ssh', 'deploy=/nonexistent/id', `${server.url}/site.git#main`]);
  assert.notEqual(r1.code, 0);
  assert.match(onlyErrorLine(r1), /--ssh deploy=\/nonexistent\/id: \/nonexistent\/id: no such file/);
  // A failing step names the Dockerfile by its path in the repository, not the checkout's path in the cache.
  const r3 = await runCliAsync(['--root', root, '--progress', 'quiet', 'build', '--no-cache', '-f', 'docker/build.Dockerfile', `${server.url}/site.git#main`]);
  assert.match(onlyErrorLine(r3), /id=deploy: no SSH agent given for id deploy .*\(docker\/build\.Dockerfile:3\)/);
  const r2 = await runCliAsync(['--root', root, 'build', `${server.url}/site.git#nobranch`]);
  assert.equal(r2.code, 1);
  assert.match(onlyErrorLine(r2), /error: http:\/\/127\.0\.0\.1:\d+\/site\.git: repository does not contain ref nobranch/);
});
