import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, TSBUILD_LAUNCHER, type CliResult } from '../helpers/cli.js';
import { busyboxTar, mountPoints } from '../helpers/build-env.js';
import { LogLines, lastState } from '../../cli/progress/lines.js';

// buildx's progress contract: a live view printed once (header with elapsed time and done/total), plain lines
// in their last `\r` state, timestamped JSON events ending with the result, and `| head` ending quietly.
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
let root: string;
let ctx: string;

function tsbuild(args: string[]): CliResult {
  return runCli(['--root', root, ...args]);
}

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-progress-'));
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'ARG N=0',
    // Progress-bar style output: one line rewritten with \r, then split across two writes.
    'RUN printf "10%%\\r50%%\\r100%%\\n"; printf "half a "; sleep 0.3; printf "line\\n"; echo n=$N',
    'RUN echo second',
    '',
  ].join('\n'));
  assert.equal(tsbuild(['import', bb.tar, 'busybox:latest']).code, 0);
});
after(async () => {
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('a line rewritten with \\r keeps its last state; a line split across writes is one line', () => {
  assert.equal(lastState('10%\r50%\r100%'), '100%');
  assert.equal(lastState('done\r'), 'done');
  const l = new LogLines();
  assert.deepEqual(l.push('a\rb'), []);
  assert.equal(l.pending(), 'b');
  assert.deepEqual(l.push('c\nd\r\ne'), ['bc', 'd']);
  assert.deepEqual(l.flush(), ['e']);
  assert.deepEqual(l.flush(), []);
});

test('--progress plain prints each output line once, whole, in its last state', () => {
  const r = tsbuild(['build', '--progress', 'plain', '--build-arg', 'N=1', '-t', 'progress:plain', ctx]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n');
  assert.ok(lines.some((l) => /^#\d+ 100%$/.test(l)), r.stderr);
  assert.ok(!lines.some((l) => /^#\d+ .*10%$/.test(l)), r.stderr);
  assert.ok(lines.some((l) => /^#\d+ half a line$/.test(l)), r.stderr);
});

test('--progress json: every event has a time, and the last one is the result', async () => {
  const iid = join(work, 'iid');
  const r = tsbuild(['build', '--progress', 'json', '--build-arg', 'N=2', '--iidfile', iid, '-t', 'progress:json', ctx]);
  assert.equal(r.code, 0, r.stderr);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { time: string; type: string; [k: string]: unknown });
  assert.ok(events.length > 4);
  for (const e of events) assert.ok(!Number.isNaN(Date.parse(e.time)) && /Z$/.test(e.time), JSON.stringify(e));
  const last = events.at(-1)!;
  assert.equal(last.type, 'result');
  assert.equal(last.imageId, (await readFile(iid, 'utf8')).trim());
  assert.match(String(last.manifestDigest), /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(last.tags, ['progress:json']);
});

test('on an unsized terminal, the live view writes its final frame alone', () => {
  const cmd = `${TSBUILD_LAUNCHER} --root ${root} build --progress tty --build-arg N=4 -t progress:tty0 ${ctx}`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout, /\[\+\] Building \d+\.\ds \(4\/4\) FINISHED/);
  assert.equal(r.stdout.split('RUN echo second').length - 1, 1, r.stdout);
});

test('the live view prints its final frame once, FINISHED, with the step count', () => {
  // `script` gives the build a terminal, as a developer's shell would.
  const cmd = `stty rows 40 cols 100; ${TSBUILD_LAUNCHER} --root ${root} build --progress tty --build-arg N=3 -t progress:tty ${ctx}`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' } });
  assert.equal(r.status, 0, r.stdout);
  const out = r.stdout;
  assert.equal(out.split('FINISHED').length - 1, 1, out);
  assert.match(out, /\[\+\] Building \d+\.\ds \(4\/4\) FINISHED/);
  // Nothing after the final frame lists the steps again (the old renderer printed the whole list twice).
  const after = out.slice(out.indexOf('FINISHED'));
  assert.equal(after.split('RUN echo second').length - 1, 1, after);
  assert.match(out, /built sha256:/);
});

test('a reader that closes the pipe (| head -1) ends the build quietly, with nothing left mounted', async () => {
  await writeFile(join(ctx, 'Dockerfile.slow'), 'FROM busybox:latest\nRUN for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 0.5; done\n');
  const errFile = join(work, 'stderr');
  const sh = `set -o pipefail; ${TSBUILD_LAUNCHER} --root ${root} build --progress json -f ${ctx}/Dockerfile.slow ${ctx} 2>${errFile} | head -1 >/dev/null; echo "status=$?"`;
  const r = spawnSync('bash', ['-c', sh], { encoding: 'utf8' });
  assert.match(r.stdout, /status=141/, r.stdout + r.stderr);
  assert.equal(await readFile(errFile, 'utf8'), '', 'no stack trace or error line after a closed pipe');
  assert.deepEqual(await mountPoints(root), []);
  const fsck = tsbuild(['fsck']);
  assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
});

test('export and save to a reader that closes the pipe (| head -c 10) end quietly with 141', async () => {
  for (const cmd of ['export busybox:latest -', 'save busybox:latest']) {
    const errFile = join(work, 'stderr-export');
    const sh = `set -o pipefail; ${TSBUILD_LAUNCHER} --root ${root} ${cmd} 2>${errFile} | head -c 10 >/dev/null; echo "status=$?"`;
    const r = spawnSync('bash', ['-c', sh], { encoding: 'utf8' });
    assert.match(r.stdout, /status=141/, `${cmd}: ${r.stdout}${r.stderr}`);
    assert.equal(await readFile(errFile, 'utf8'), '', `${cmd}: no stack trace or error line after a closed pipe`);
  }
});
