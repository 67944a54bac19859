import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli, TSBUILD_LAUNCHER, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';

// buildx's -q (only the image ID on stdout), --progress rawjson (BuildKit's SolveStatus lines on stderr) and
// --builder (accepted: tsbuild is its own, only builder).
const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
let root: string;
let ctx: string;

function tsbuild(args: string[]): CliResult {
  return runCli(['--root', root, ...args]);
}

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-quiet-'));
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nARG UNUSED_IS_NOT_ASKED\nRUN echo from-the-step && echo to-stderr >&2\n');
  assert.equal(tsbuild(['import', bb.tar, 'busybox:latest']).code, 0);
});
after(async () => {
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('IMG=$(tsbuild build -q .) holds the image ID and nothing else; stderr stays empty', async () => {
  const iid = join(work, 'iid');
  const { stdout, stderr } = await run('sh', ['-c', `IMG=$("$0" --root "$1" build -q --no-cache --iidfile "$2" --build-arg UNUSED=1 "$3") && printf '[%s]' "$IMG"`, TSBUILD_LAUNCHER, root, iid, ctx]);
  assert.match(stdout, /^\[sha256:[0-9a-f]{64}\]$/);
  assert.equal(stdout.slice(1, -1), await readFile(iid, 'utf8'), 'the ID is the config digest, as --iidfile writes it');
  assert.equal(stderr, '', 'no progress, step output or warning');
  const long = tsbuild(['build', '--quiet', ctx]);
  assert.equal(long.code, 0, long.stderr);
  assert.equal(long.stdout, `${stdout.slice(1, -1)}\n`);
});

test('--progress rawjson prints BuildKit SolveStatus lines on stderr: vertexes, base64 logs of their steps', async () => {
  const r = tsbuild(['--progress', 'rawjson', 'build', '--no-cache', ctx]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '', 'stdout stays free (as buildx)');
  const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as {
    vertexes?: { digest: string; name: string; started?: string; completed?: string; cached?: boolean }[];
    logs?: { vertex: string; stream: number; data: string; timestamp: string }[];
  });
  const vertexes = lines.flatMap((l) => l.vertexes ?? []);
  const run1 = vertexes.find((v) => v.name.includes('RUN echo from-the-step') && v.completed);
  assert.ok(run1, 'the RUN step completes as a vertex');
  assert.match(run1.digest, /^sha256:[0-9a-f]{64}$/);
  assert.ok(Date.parse(run1.completed!) >= Date.parse(run1.started!));
  const logs = lines.flatMap((l) => l.logs ?? []).filter((l) => l.vertex === run1.digest);
  const text = (s: number): string => logs.filter((l) => l.stream === s).map((l) => Buffer.from(l.data, 'base64').toString()).join('');
  assert.match(text(1), /from-the-step/);
  assert.match(text(2), /to-stderr/);
});

test('--builder NAME is accepted; --progress none prints nothing', async () => {
  const r = tsbuild(['--progress', 'none', 'build', '--builder', 'ci-builder', ctx]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, '');
});
