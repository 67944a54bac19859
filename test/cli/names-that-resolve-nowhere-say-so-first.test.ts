import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onlyErrorLine, runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';

// A COPY --from or FROM name that is no stage and no local image, and cannot be pulled (no registry answers
// here), is first reported as such, with the closest stage or local name, before the network error.
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
let root: string;
let ctx: string;

function tsbuild(args: string[]): CliResult {
  // No registry answers here (docker.io does not resolve): the pull of an unknown bare name fails.
  return runCli(['--root', root, ...args]);
}

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-nowhere-'));
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile.copy'), 'FROM busybox:latest AS builder\nRUN echo x > /x\nFROM busybox:latest\nCOPY --from=buidler /x /x\n');
  await writeFile(join(ctx, 'Dockerfile.from'), 'FROM busybx:latest\nRUN true\n');
  await writeFile(join(ctx, 'Dockerfile.far'), 'FROM nothing-like-it\n');
  assert.equal(tsbuild(['import', bb.tar, 'busybox:latest']).code, 0);
});
after(async () => {
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('COPY --from a mistyped stage name names the stage it meant, then the pull failure', () => {
  const r = tsbuild(['build', '--progress', 'plain', '-f', join(ctx, 'Dockerfile.copy'), ctx]);
  assert.equal(r.code, 1);
  const line = r.stderr.split('\n').find((l) => l.startsWith('error: '))!;
  assert.match(line, /^error: no stage or local image named buidler; did you mean builder\? \(pulling it failed: .+\) \(.*Dockerfile\.copy:4\)/);
});

test('FROM a mistyped local image names the local image', () => {
  const r = tsbuild(['build', '--progress', 'quiet', '-f', join(ctx, 'Dockerfile.from'), ctx]);
  const line = onlyErrorLine(r);
  assert.match(line, /no stage or local image named busybx:latest; did you mean busybox:latest\?/);
  assert.match(line, /Dockerfile\.from:1/);
});

test('a name near nothing says so without a suggestion', () => {
  // `--progress` twice (a wrapper's default, then the user's): the last wins, so no progress line surrounds the error.
  const r = tsbuild(['--progress', 'plain', 'build', '--progress', 'quiet', '-f', join(ctx, 'Dockerfile.far'), ctx]);
  const line = onlyErrorLine(r);
  assert.match(line, /no stage or local image named nothing-like-it \(pulling it failed: /);
  assert.doesNotMatch(line, /did you mean/);
});
