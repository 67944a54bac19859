import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HELPER_SHELL_NAME, ShellRunner, shQuote } from '../../runtime-exec/index.js';

// A build's `runc run` is a command of its helper shell: its output must reach the progress display while it runs,
// whole and in order, and the shell is the step's tie (its exit scripts run when the build closes it or dies).
test('runStreaming hands stdout and stderr over while the command runs, all of it, and returns its exit status', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-shs-'));
  const sh = new ShellRunner({ dir });
  t.after(async () => {
    await sh.close();
    await rm(dir, { recursive: true, force: true });
  });
  const flag = join(dir, 'seen');
  const got: { stream: string; data: string }[] = [];
  // The command waits (up to 10 s) for a file that is made only once its first line has arrived here.
  const script = `echo first; i=0; while [ ! -e ${shQuote(flag)} ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; `
    + `[ -e ${shQuote(flag)} ] || exit 9; echo oops >&2; head -c 200000 /dev/zero | tr '\\0' x; exit 3`;
  // The line is sourced by the shell: it runs a command (as runc's line does), it never `exit`s the shell's job itself.
  const status = sh.runStreaming(`sh -c ${shQuote(script)}`, (stream, data) => {
    got.push({ stream, data: data.toString('latin1') });
    if (stream === 'stdout' && data.includes('first')) writeFileSync(flag, '');
  });
  assert.ok(status, 'the shell takes the command');
  assert.equal(await status, 3, 'the exit status is the command\'s (9 had the first line come only at the end)');
  const out = got.filter((g) => g.stream === 'stdout').map((g) => g.data).join('');
  assert.equal(out, `first\n${'x'.repeat(200000)}`);
  assert.equal(got.filter((g) => g.stream === 'stderr').map((g) => g.data).join(''), 'oops\n');
});

test('an exit script runs when the shell is closed while it is registered, and not once released', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-shs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sh = new ShellRunner({ dir });
  const kept = join(dir, 'kept');
  const released = join(dir, 'released');
  assert.ok(sh.tieOnExit(`: > ${shQuote(kept)}`));
  const release = sh.tieOnExit(`: > ${shQuote(released)}`);
  assert.ok(release);
  release();
  assert.equal(existsSync(kept), false, 'nothing runs while the shell is there');
  await sh.close();
  assert.equal(existsSync(kept), true, 'the registered script ran at the end of the shell\'s input');
  assert.equal(existsSync(released), false, 'the released one did not');
  assert.equal(sh.tieOnExit(':'), undefined, 'a closed shell holds no more scripts');
});

test('a helper shell sweeps the directories that shells of dead processes left in its parent, and keeps live ones', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-shs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const gone = spawnSync('true').pid; // exited and reaped: its pid names no process (unless reused at once)
  const dead = join(dir, `${HELPER_SHELL_NAME}-${gone}-aaaaaa`);
  const live = join(dir, `${HELPER_SHELL_NAME}-${process.ppid}-bbbbbb`);
  mkdirSync(dead);
  mkdirSync(live);
  const sh = new ShellRunner({ dir });
  t.after(() => sh.close());
  assert.equal((await sh.run('true', [])).code, 0);
  assert.equal(existsSync(dead), false, 'the dead shell\'s directory is removed');
  assert.equal(existsSync(live), true, 'a live process\'s is kept');
});
