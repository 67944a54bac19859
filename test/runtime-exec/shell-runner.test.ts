import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ShellRunner } from '../../runtime-exec/index.js';

// The builder forks its helper commands (mount, umount, getfattr, cp) from one small shell instead of from Node.
// What a command sees and returns must be exactly what a direct spawn gives.
test('ShellRunner passes arguments verbatim, feeds stdin, honours cwd, returns exit codes and stderr', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-shr-'));
  const sh = new ShellRunner({ dir });
  t.after(async () => {
    await sh.close();
    await rm(dir, { recursive: true, force: true });
  });
  const tricky = ["it's", 'a b', '$HOME', '`id`', '"q"', '\\', '*', ';exit 3', ''];
  const echo = await sh.run('printf', ['%s|', ...tricky]);
  assert.equal(echo.code, 0);
  assert.equal(echo.stdout.toString(), tricky.map((a) => `${a}|`).join(''));
  const cat = await sh.run('cat', [], { input: Buffer.from([0, 1, 2, 255, 10]) });
  assert.deepEqual([...cat.stdout], [0, 1, 2, 255, 10]);
  assert.equal((await sh.run('pwd', [], { cwd: '/usr' })).stdout.toString(), '/usr\n');
  const fail = await sh.run('sh', ['-c', 'echo out; echo err >&2; exit 7']);
  assert.deepEqual([fail.code, fail.stdout.toString(), fail.stderr], [7, 'out\n', 'err\n']);
  await assert.rejects(sh.run('tsbuild-no-such-program', []), { code: 'ENOENT' });
  // A newline cannot travel on the shell's command line: such a call is spawned directly, same result.
  assert.equal((await sh.run('printf', ['%s', 'two\nlines'])).stdout.toString(), 'two\nlines');
});

test('ShellRunner runs commands at the same time, and close() ends the shell and removes its directory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-shr-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sh = new ShellRunner({ dir });
  const flag = join(dir, 'flag');
  // The first command waits for a file the second one creates: it can only finish if both run concurrently.
  const waiter = sh.run('sh', ['-c', `i=0; while [ ! -e '${flag}' ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; [ -e '${flag}' ]`]);
  const maker = sh.run('touch', [flag]);
  assert.equal((await maker).code, 0);
  assert.equal((await waiter).code, 0, 'the waiting command saw the file');
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => sh.run('echo', [String(i)])));
  assert.deepEqual(results.map((r) => r.stdout.toString()), Array.from({ length: 40 }, (_, i) => `${i}\n`));
  const own = (await readdir(dir)).filter((n) => n.startsWith('tsbuild-sh-'));
  assert.equal(own.length, 1);
  await sh.close();
  assert.equal(existsSync(join(dir, own[0]!)), false, 'its directory is gone');
  // After close, commands still work (spawned directly).
  assert.equal((await sh.run('echo', ['after'])).stdout.toString(), 'after\n');
});
