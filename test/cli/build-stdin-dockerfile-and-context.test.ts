import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, onlyErrorLine, TSBUILD_LAUNCHER, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';

// docker's and buildx's stdin inputs: `-f -` (the Dockerfile on stdin) and the context `-` (a tar, plain or
// compressed, or a bare Dockerfile with no context), detected from the stream's first bytes as docker/cli does.
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
let root: string;
let ctx: string;

/** Runs `tsbuild --root ROOT ARGS…` with `input` on its stdin. */
function withStdin(args: string[], input: Buffer | string): CliResult {
  const r = spawnSync(TSBUILD_LAUNCHER, ['--root', root, ...args], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** The context directory as a tar, compressed with GNU tar's `flag` (-z, -j, -J, --zstd) when given. */
function contextTar(flag?: string): Buffer {
  return execFileSync('tar', ['-C', ctx, ...(flag ? [flag] : []), '-c', '.'], { maxBuffer: 1 << 26 });
}
const id = (r: CliResult): string => {
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
  return r.stdout.trim();
};

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-stdin-'));
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  await mkdir(join(ctx, 'sub'), { recursive: true });
  await writeFile(join(ctx, 'a.txt'), 'from the context\n');
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copied\n');
  await writeFile(join(ctx, 'sub', 'Alt.Dockerfile'), 'FROM busybox:latest\nCOPY a.txt /alt.txt\n');
  assert.equal(runCli(['--root', root, 'import', bb.tar, 'busybox:latest']).code, 0);
});
after(async () => {
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('-f - reads the Dockerfile from stdin and builds the directory context', async () => {
  const r = withStdin(['build', '-q', '-f', '-', '-t', 'stdin-df:1', ctx], 'FROM busybox:latest\nCOPY a.txt /from-stdin-dockerfile\n');
  id(r);
  const run = runCli(['--root', root, 'run', 'stdin-df:1', 'cat', '/from-stdin-dockerfile']);
  assert.equal(run.stdout, 'from the context\n', run.stderr);
});

test('context - reads a tar from stdin: plain, gzip, bzip2, xz and zstd give the image the directory gives', async () => {
  const fromDir = id(runCli(['--root', root, 'build', '-q', ctx]));
  for (const flag of [undefined, '-z', '-j', '-J', '--zstd']) {
    assert.equal(id(withStdin(['build', '-q', '-'], contextTar(flag))), fromDir, `tar ${flag ?? '(plain)'}`);
  }
  // -f names a file inside the tar, as docker reads it.
  const alt = withStdin(['build', '-q', '-f', 'sub/Alt.Dockerfile', '-t', 'stdin-alt:1', '-'], contextTar('-z'));
  id(alt);
  assert.equal(runCli(['--root', root, 'run', 'stdin-alt:1', 'cat', '/alt.txt']).stdout, 'from the context\n');
  assert.deepEqual(await readdir(join(root, 'tmp')), [], 'the unpacked context is removed');
});

test('context - with a bare Dockerfile builds it with an empty context', async () => {
  const r = withStdin(['build', '-q', '-t', 'stdin-bare:1', '-'], 'FROM busybox:latest\nRUN echo bare > /bare\n');
  id(r);
  assert.equal(runCli(['--root', root, 'run', 'stdin-bare:1', 'cat', '/bare']).stdout, 'bare\n');
  const copy = withStdin(['build', '-'], 'FROM busybox:latest\nCOPY a.txt /\n');
  assert.notEqual(copy.code, 0, 'there is no context to copy from');
  assert.match(copy.stderr, /a\.txt/);
});

test('stdin for both, a Dockerfile on stdin with -f, and an empty stdin are refused as docker refuses them', async () => {
  const cases: [string[], string, RegExp][] = [
    [['build', '-f', '-', '-'], 'FROM busybox\n', /can't use stdin for both build context and dockerfile/],
    [['build', '-f', 'Dockerfile', '-'], 'FROM busybox\n', /ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles/],
    [['build', '-'], '', /the build context on stdin is empty/],
  ];
  for (const [args, input, want] of cases) {
    const r = withStdin(args, input);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(onlyErrorLine(r), want);
  }
});
