/**
 * hashSources with a build's helper shell (`commands`) reads the extended attributes of changed sources through
 * that shell (xargs getfattr forked by it, not by this process) and gives the same prints and digest as when it
 * spawns getfattr itself: names with a space, a newline and a non-ASCII letter included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StatCache, hashSources } from '../../cache/index.js';
import { ShellRunner } from '../../runtime-exec/index.js';
import type { CommandResult, CommandRunner } from '../../layer-store/index.js';

const run = promisify(execFile);

test('xattrs read through the helper shell give the prints and digest of a direct getfattr', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-hashx-'));
  const cacheDirs = [await mkdtemp(join(tmpdir(), 'tsbuild-statcache-')), await mkdtemp(join(tmpdir(), 'tsbuild-statcache-'))];
  const shellParent = await mkdtemp(join(tmpdir(), 'tsbuild-hashx-sh-'));
  const shell = new ShellRunner({ dir: shellParent });
  t.after(async () => {
    await shell.close();
    for (const d of [ctx, shellParent, ...cacheDirs]) await rm(d, { recursive: true, force: true });
  });
  const odd = 'odd \nnamé.txt';
  await mkdir(join(ctx, 'd'));
  await writeFile(join(ctx, 'd', 'plain.txt'), 'plain');
  await writeFile(join(ctx, 'd', 'with xattr.txt'), 'tagged');
  await writeFile(join(ctx, 'd', odd), 'odd');
  await run('setfattr', ['-n', 'user.note', '-v', 'one', join(ctx, 'd', 'with xattr.txt')]);
  await run('setfattr', ['-n', 'user.dir', '-v', 'two', join(ctx, 'd')]);
  await run('setfattr', ['-n', 'user.odd', '-v', 'three', join(ctx, 'd', odd)]);
  const sel = { paths: ['d', `d/${odd}`, 'd/plain.txt', 'd/with xattr.txt'] };

  const calls: string[] = [];
  const counting: CommandRunner = {
    run(cmd: string, args: readonly string[], o?: { readonly input?: string | Buffer; readonly cwd?: string }): Promise<CommandResult> {
      calls.push(cmd);
      return shell.run(cmd, args, o);
    },
  };
  const direct = await hashSources(ctx, sel, await StatCache.open(cacheDirs[0]!));
  const viaShell = await hashSources(ctx, sel, await StatCache.open(cacheDirs[1]!), { commands: counting });
  assert.deepEqual(calls, ['xargs'], 'one xargs getfattr, run by the helper shell');
  assert.deepEqual(viaShell.files, direct.files);
  assert.equal(viaShell.digest, direct.digest);
  assert.match(viaShell.files['d/with xattr.txt']!, /;x=[0-9a-f]{64}\|/, 'the file\'s xattr is in its print');
  assert.match(viaShell.files['d']!, /;x=[0-9a-f]{64}\|/, 'the directory\'s xattr is in its print');
  assert.match(viaShell.files[`d/${odd}`]!, /;x=[0-9a-f]{64}\|/, 'the oddly named file\'s xattr is in its print');
  assert.doesNotMatch(viaShell.files['d/plain.txt']!, /;x=/);
});
