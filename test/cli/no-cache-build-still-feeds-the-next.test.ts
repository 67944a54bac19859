import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';

// BuildKit's --no-cache ignores the cache for that build but still records its results: the next build hits.
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
let root: string;
let ctx: string;

function tsbuild(args: string[]): CliResult {
  return runCli(['--root', root, '--progress', 'plain', ...args]);
}

/** The `--explain` lines of a build: `CACHED` or `RAN`, the step, and the reason of a rerun. */
function explained(r: CliResult): string[] {
  assert.equal(r.code, 0, r.stderr);
  return r.stderr.split('\n').filter((l) => /^(CACHED|RAN) /.test(l) || /^ +because: /.test(l)).map((l) => l.trim().replace(/\s+/g, ' '));
}

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-nocache-'));
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'a.txt'), 'A\n');
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest AS deps',
    'RUN echo deps > /deps',
    'FROM busybox:latest',
    'COPY a.txt /a.txt',
    'RUN echo built > /built',
    'COPY --from=deps /deps /deps',
    '',
  ].join('\n'));
  assert.equal(tsbuild(['import', bb.tar, 'busybox:latest']).code, 0);
});
after(async () => {
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('a --no-cache build runs every step and the next ordinary build hits every one', () => {
  const first = explained(tsbuild(['build', '--no-cache', '--explain', '-t', 'nc:1', ctx]));
  const ran = first.filter((l) => l.startsWith('RAN'));
  assert.equal(ran.length, 4, first.join('\n'));
  assert.ok(first.filter((l) => l.startsWith('because')).every((l) => /--no-cache/.test(l)), first.join('\n'));
  const next = explained(tsbuild(['build', '--explain', '-t', 'nc:2', ctx]));
  assert.equal(next.filter((l) => l.startsWith('CACHED')).length, 4, next.join('\n'));
  assert.ok(!next.some((l) => /no previous build/.test(l)), next.join('\n'));
});

test('--no-cache-filter reruns only its stage, and that stage still feeds the next build', () => {
  const filtered = explained(tsbuild(['build', '--no-cache-filter', 'deps', '--explain', '-t', 'nc:3', ctx]));
  // The deps stage reruns; the other stage's own steps hit (its COPY --from reruns only because deps' layer is new).
  assert.ok(filtered.some((l) => l.startsWith('RAN') && l.includes('echo deps')), filtered.join('\n'));
  assert.ok(filtered.some((l) => l.startsWith('CACHED') && l.includes('COPY a.txt')), filtered.join('\n'));
  assert.ok(filtered.some((l) => l.startsWith('CACHED') && l.includes('echo built')), filtered.join('\n'));
  const next = explained(tsbuild(['build', '--explain', '-t', 'nc:4', ctx]));
  assert.equal(next.filter((l) => l.startsWith('RAN')).length, 0, next.join('\n'));
});
