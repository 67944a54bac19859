import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;

function tsbuild(root: string, args: string[]): CliResult {
  return runCli(['--root', root, ...args]);
}

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-prune-'));
});
after(async () => {
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('prune keeps the layers cache records use; prune --cache drops them; du reports both', async () => {
  const root = join(work, 'root');
  const ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN echo one > /one\nRUN echo two > /two\n');
  assert.equal(tsbuild(root, ['import', bb.tar, 'busybox:latest']).code, 0);
  assert.equal(tsbuild(root, ['build', '-t', 'p:1', ctx]).code, 0);
  const du = JSON.parse(tsbuild(root, ['du', '--format', 'json']).stdout) as { cacheRecords: { count: number; layers: number } };
  assert.equal(du.cacheRecords.count, 2);
  assert.equal(du.cacheRecords.layers, 2);

  assert.equal(tsbuild(root, ['rmi', 'p:1']).code, 0);
  assert.equal(tsbuild(root, ['prune']).code, 0);
  const warm = tsbuild(root, ['build', '--progress', 'json', '-t', 'p:1', ctx]);
  assert.equal(warm.code, 0, warm.stderr);
  assert.equal(warm.stdout.split('\n').filter((l) => l.includes('"step.cached"')).length, 2, 'cache survived prune');

  assert.equal(tsbuild(root, ['rmi', 'p:1']).code, 0);
  const pc = tsbuild(root, ['prune', '--cache']);
  assert.equal(pc.code, 0, pc.stderr);
  assert.match(pc.stdout, /Deleted 2 cache records/);
  const cold = tsbuild(root, ['build', '--progress', 'json', '-t', 'p:1', ctx]);
  assert.equal(cold.stdout.split('\n').filter((l) => l.includes('"step.miss"')).length, 2, 'every step ran again');
  // `--no-cache` is its own flag (not yargs' negation of a `cache` option).
  const nc = tsbuild(root, ['build', '--no-cache', '--no-cache-filter', 'x', '--progress', 'json', '-t', 'p:1', ctx]);
  assert.equal(nc.code, 0, nc.stderr);
  assert.equal(nc.stdout.split('\n').filter((l) => l.includes('"kind":"no-cache"')).length, 2);
  const bad = tsbuild(root, ['prune', '--cache', '--filter', 'since=1h']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: invalid --filter/);
});
