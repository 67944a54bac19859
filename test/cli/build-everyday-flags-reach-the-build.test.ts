import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar, mountPoints } from '../helpers/build-env.js';

// The everyday buildx flags, each seen where it must act: --target picks the stage, --label lands in the config,
// --build-arg reaches RUN, and --network none leaves RUN only a loopback interface. (The cgroup limits --memory,
// --cpus and --pids-limit set are tested in test/runtime-exec/cgroup-limits-enforced.test.ts.)
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
let root: string;
let ctx: string;

function tsbuild(args: string[]): CliResult {
  return runCli(['--root', root, '--progress', 'plain', ...args]);
}

function inspect(ref: string, format: string): string {
  const r = runCli(['--root', root, 'inspect', '--format', format, ref]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-flags-'));
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest AS first',
    'ARG GREETING=default',
    'RUN echo "$GREETING" > /greeting && ls /sys/class/net > /nets',
    'FROM busybox:latest',
    'RUN echo last > /last',
    '',
  ].join('\n'));
  assert.equal(tsbuild(['import', bb.tar, 'busybox:latest']).code, 0);
});
after(async () => {
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('--target, --label, --build-arg and --network none', () => {
  const r = tsbuild(['build', '--target', 'first', '--label', 'org.example.team=build', '--build-arg', 'GREETING=hello', '--network', 'none', '-t', 'flags:first', ctx]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(inspect('flags:first', '{{index .Config.Labels "org.example.team"}}'), 'build');
  // The target stage's files, not the last stage's.
  assert.equal(runCli(['--root', root, 'run', 'flags:first', 'ls', '/greeting']).code, 0);
  const last = runCli(['--root', root, 'run', 'flags:first', 'ls', '/last']);
  assert.notEqual(last.code, 0, last.stdout + last.stderr);
  assert.match(last.stderr + last.stdout, /No such file/);
  const run = runCli(['--root', root, 'run', 'flags:first', 'cat', '/greeting', '/nets']);
  assert.equal(run.stdout, 'hello\nlo\n', run.stderr);
});

test('nothing of the builds stays mounted', async () => {
  assert.deepEqual(await mountPoints(root), []);
});
