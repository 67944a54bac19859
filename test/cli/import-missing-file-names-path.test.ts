import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onlyErrorLine, runCli } from '../helpers/cli.js';

/** The store's index.json and every file name under blobs/ (a temp blob would show up here). */
async function storeState(root: string): Promise<string> {
  return `${await readFile(join(root, 'index.json'), 'utf8')}\n${(await readdir(join(root, 'blobs', 'sha256'))).sort().join('\n')}`;
}

test('import, load and save name the missing or wrong path and what to do, and leave the store and target as they were', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-paths-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  await mkdir(join(dir, 'rootfs', 'etc'), { recursive: true });
  await writeFile(join(dir, 'rootfs', 'etc', 'hostname'), 'x\n');
  execFileSync('tar', ['-C', join(dir, 'rootfs'), '-cf', join(dir, 'rootfs.tar'), '.']);
  const seeded = runCli(['--root', root, 'import', join(dir, 'rootfs.tar'), 'seed:1']);
  assert.equal(seeded.code, 0, seeded.stderr);
  const before = await storeState(root);

  const missing = join(dir, 'nope.tar');
  const cases: [string[], string][] = [
    [['import', missing, 'app:1'], `error: rootfs tar not found (${missing}): check the path; import takes a root filesystem tar (plain or gzip)`],
    [['import', join(dir, 'rootfs'), 'app:1'], `error: rootfs tar is a directory (${join(dir, 'rootfs')}): import takes a tar file; to import this directory, tar it first: tar -C ${join(dir, 'rootfs')} -cf ${join(dir, 'rootfs')}.tar .`],
    [['load', '-i', missing], `error: archive not found (${missing}): check the path; load takes an OCI archive or docker-archive`],
    [['load', '-i', join(dir, 'rootfs')], `error: archive is a directory (${join(dir, 'rootfs')}): load takes a tar file`],
    [['save', 'seed:1', '-o', join(dir, 'no', 'such', 'dir', 'out.tar')], `error: cannot write archive: directory ${join(dir, 'no', 'such', 'dir')} does not exist (${join(dir, 'no', 'such', 'dir', 'out.tar')}): create it first (mkdir -p ${join(dir, 'no', 'such', 'dir')})`],
    [['save', 'seed:1', '-o', join(dir, 'rootfs')], `error: cannot write archive: the path is a directory (${join(dir, 'rootfs')}): name a file, e.g. ${join(dir, 'rootfs')}/image.tar`],
  ];
  for (const [args, want] of cases) {
    const r = runCli(['--root', root, ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    const line = onlyErrorLine(r);
    assert.ok(line.startsWith(want), `${args.join(' ')}:\n  got  ${line}\n  want ${want}…`);
    assert.doesNotMatch(line, /ENOENT|EISDIR|\.tmp/, 'no raw errno and no internal temp name');
    assert.equal(await storeState(root), before, 'no image, name or temp blob added to the store');
  }
  assert.deepEqual((await readdir(dir)).sort(), ['rootfs', 'rootfs.tar', 'root'].sort(), 'no temp file beside the targets');
  assert.deepEqual(await readdir(join(dir, 'rootfs')), ['etc'], 'nothing written into the directory given as -o');
});
